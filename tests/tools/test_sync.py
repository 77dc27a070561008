"""`run_sync`: the one background loop behind every sync wrapper."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tools import Toolbox, tool
from tools._sync import run_sync, sync_loop

ROOT = Path(__file__).resolve().parents[2]


async def _loop_and_thread() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    return asyncio.get_running_loop(), threading.current_thread()


def _run(coroutine: object) -> object:
    return run_sync(coroutine, what="test()", instead="await test_async()")  # type: ignore[arg-type]


def test_every_call_runs_on_the_same_background_loop() -> None:
    first_loop, first_thread = _run(_loop_and_thread())  # type: ignore[misc]
    second_loop, second_thread = _run(_loop_and_thread())  # type: ignore[misc]
    assert first_loop is second_loop is sync_loop()
    assert first_thread is second_thread is not threading.current_thread()
    assert first_thread.daemon and not first_loop.is_closed()


def test_objects_bound_to_the_loop_survive_between_calls() -> None:
    async def make() -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        await queue.put("kept")
        return queue

    queue = _run(make())
    assert _run(queue.get()) == "kept"  # type: ignore[attr-defined]


def test_results_and_exceptions_come_back() -> None:
    async def fail() -> None:
        raise LookupError("no such thing")

    async def answer() -> int:
        return 42

    assert _run(answer()) == 42
    with pytest.raises(LookupError, match="no such thing"):
        _run(fail())


async def test_inside_a_running_loop_it_names_the_async_alternative() -> None:
    coroutine = _loop_and_thread()
    with pytest.raises(RuntimeError) as caught:
        _run(coroutine)
    assert "test() cannot run inside a running event loop" in str(caught.value)
    assert "`await test_async()`" in str(caught.value)
    assert coroutine.cr_frame is None  # closed: no "never awaited" warning


def test_toolbox_call_sync_uses_it() -> None:
    @tool
    async def where() -> str:
        return str(id(asyncio.get_running_loop()))

    box = Toolbox([where])
    assert box.call_sync("where").content == str(id(sync_loop()))
    assert box.call_sync("where").content == str(id(sync_loop()))


async def test_toolbox_call_sync_in_a_loop_says_what_to_write() -> None:
    with pytest.raises(RuntimeError, match=r"Toolbox\.call_sync\(\).*`await box\.call\(\.\.\.\)`"):
        Toolbox().call_sync("anything")


def test_ctrl_c_cancels_the_coroutine_and_goes_on_as_keyboard_interrupt() -> None:
    script = textwrap.dedent(
        """
        import asyncio, os, signal, threading
        from tools._sync import run_sync

        async def forever():
            asyncio.get_running_loop().call_soon(interrupt.set)
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                print("cancelled", flush=True)
                raise

        interrupt = threading.Event()
        def press_ctrl_c():
            interrupt.wait(30)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=press_ctrl_c, daemon=True).start()
        try:
            run_sync(forever(), what="x()", instead="await x()")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        """
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["cancelled", "interrupted"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_loop() -> None:
    async def answer() -> str:
        return "child"

    _run(_loop_and_thread())  # the parent's loop runs
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through its exit status)
        os._exit(0 if _run(answer()) == "child" else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
