"""The worker threads of sync tools: reused, daemons (a hung tool never holds process exit)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tests.tools.helpers import WAIT, LoopEvent, Rendezvous
from tools._threads import WorkerInterrupted, WorkerThreads, run_blocking

ROOT = Path(__file__).resolve().parents[2]


async def test_runs_jobs_in_reused_daemon_threads() -> None:
    threads = WorkerThreads(max_threads=4, name="test-worker")
    first = await threads.run(threading.current_thread)
    second = await threads.run(threading.current_thread)
    assert first is second  # idle thread reused
    assert first is not threading.current_thread()
    assert first.daemon and first.name == "test-worker-1"
    assert threads.thread_count == 1


async def test_results_and_errors_come_back() -> None:
    threads = WorkerThreads(max_threads=2, name="test-worker")
    assert await threads.run(lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        await threads.run(lambda: 1 / 0)


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, GeneratorExit])
async def test_base_exceptions_come_back_wrapped(error: type[BaseException]) -> None:
    def job() -> None:
        raise error("in a worker")

    threads = WorkerThreads(max_threads=1, name="test-worker")
    with pytest.raises(WorkerInterrupted) as caught:
        await threads.run(job)
    assert type(caught.value.error) is error
    assert await threads.run(lambda: "still working") == "still working"


async def test_jobs_run_together_up_to_the_limit_then_queue() -> None:
    threads = WorkerThreads(max_threads=2, name="test-worker")
    meeting = Rendezvous(3)  # two jobs and this test
    release = threading.Event()
    ran: list[bool] = []

    def job() -> None:
        ran.append(meeting.meet_in_thread())
        release.wait(WAIT)

    jobs = [asyncio.ensure_future(threads.run(job)) for _ in range(4)]
    assert await meeting.meet()  # two jobs are running at once
    release.set()
    await asyncio.gather(*jobs)
    assert ran == [True] * 4
    assert threads.thread_count == 2  # the other two waited for a free thread


async def test_a_cancelled_wait_drops_the_result_and_a_queued_job_is_skipped() -> None:
    threads = WorkerThreads(max_threads=1, name="test-worker")
    running = LoopEvent()
    release = threading.Event()
    ran: list[str] = []

    def busy_job() -> str:
        running.set()
        release.wait(WAIT)
        return "dropped"

    busy = asyncio.ensure_future(threads.run(busy_job))
    queued = asyncio.ensure_future(threads.run(lambda: ran.append("queued")))
    await running.wait()  # the one thread runs the busy job; the other waits in the queue
    busy.cancel()
    queued.cancel()
    release.set()
    assert await threads.run(lambda: "next") == "next"
    assert ran == []
    assert busy.cancelled() and queued.cancelled()


async def test_many_jobs_in_a_row_reuse_one_thread() -> None:
    threads = WorkerThreads(max_threads=8, name="test-worker")
    seen = {await threads.run(threading.current_thread) for _ in range(50)}
    assert len(seen) == 1 and threads.thread_count == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
async def test_a_forked_child_starts_its_own_threads() -> None:
    threads = WorkerThreads(max_threads=1, name="test-worker")
    await threads.run(lambda: None)  # the parent's one thread, idle now
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through its exit status)
        ok = asyncio.run(asyncio.wait_for(threads.run(lambda: "child"), 5)) == "child"
        os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_hung_sync_tool_does_not_hold_process_exit() -> None:
    script = textwrap.dedent(
        """
        import asyncio, threading
        from tools import Toolbox, tool

        @tool(timeout=0.2)
        def hang() -> str:
            threading.Event().wait()  # never returns
            return "never"

        result = asyncio.run(Toolbox([hang]).call("hang", None))
        print(result.error_kind, flush=True)
        """
    )
    # A held exit would hang: the subprocess's own timeout is what fails the test then.
    finished = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "timeout"


async def test_run_blocking_runs_off_the_loop_in_a_reused_daemon_thread() -> None:
    # The pool is the process's own: other tests' jobs may hold a thread, so reuse is shown
    # as "never more threads than the pool has", and exactly by the WorkerThreads tests above.
    from tools._threads import _blocking

    used = {await run_blocking(threading.current_thread) for _ in range(20)}
    assert threading.current_thread() not in used
    assert all(thread.daemon and thread.name.startswith("voxagent-blocking-") for thread in used)
    assert len(used) <= _blocking.thread_count < 20


async def test_run_blocking_passes_results_and_errors_through() -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    assert await run_blocking(lambda: 6 * 7) == 42
    with pytest.raises(FileNotFoundError):
        await run_blocking(lambda: open("/nonexistent/voxagent"))  # noqa: SIM115
    with pytest.raises(WorkerInterrupted) as caught:  # not a Ctrl-C of this thread
        await run_blocking(interrupted)
    assert type(caught.value.error) is KeyboardInterrupt
    assert str(caught.value) == "KeyboardInterrupt"


async def test_the_loop_runs_while_a_blocking_call_waits() -> None:
    loop_ran = threading.Event()
    waiting = asyncio.ensure_future(run_blocking(lambda: loop_ran.wait(WAIT)))
    await asyncio.sleep(0)
    loop_ran.set()  # only reachable while the loop runs
    assert await waiting is True


def test_worker_interrupted_prints_even_an_unprintable_error() -> None:
    class Unprintable(BaseException):
        def __str__(self) -> str:
            raise RuntimeError("no str")

        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    wrapped = WorkerInterrupted(Unprintable())
    assert str(wrapped) == "Unprintable"
    assert repr(wrapped) == "WorkerInterrupted(<Unprintable object>)"
