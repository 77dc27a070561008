"""The one mechanism behind every sync wrapper: a persistent event loop in a daemon thread.

`run_sync(coroutine)` runs the coroutine on that loop and waits for it. Every sync wrapper of
the project (`Agent.run_sync`, `Agent.replay`, `Agent.transcribe_sync`, `Toolbox.call_sync`)
goes through it, so all of them share one loop for the life of the process: clients and
connections made in one call are reused by the next, and nothing is bound to a loop that has
since closed. The thread is a daemon: it never holds the process's exit; at exit the tasks
still pending on the loop (a client's close-at-loop-end guard, say) are cancelled and given a
moment to finish, so connections close cleanly.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync", "sync_loop"]

_T = TypeVar("_T")
_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _forget_loop() -> None:
    """In a forked child: the parent's loop thread is not there, so start a new one on use."""
    global _lock, _loop
    _lock = threading.Lock()
    _loop = None


os.register_at_fork(after_in_child=_forget_loop)


def sync_loop() -> asyncio.AbstractEventLoop:
    """The background loop the sync wrappers run on (started on first use)."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=serve, name="voxagent-sync-loop", daemon=True).start()
            ready.wait()
            _loop = loop
        return _loop


def _wind_down(seconds: float = 2.0) -> None:
    """At exit: cancel what is left on the loop, wait for it (bounded), then stop the loop."""
    loop = _loop
    if loop is None or loop.is_closed() or not loop.is_running():
        return

    async def cancel_the_rest() -> None:
        current = asyncio.current_task()
        rest = [task for task in asyncio.all_tasks() if task is not current]
        for task in rest:
            task.cancel()
        if rest:
            await asyncio.wait(rest, timeout=seconds)
        loop.stop()

    with contextlib.suppress(BaseException):
        asyncio.run_coroutine_threadsafe(cancel_the_rest(), loop).result(timeout=seconds + 1)


atexit.register(_wind_down)


def run_sync(coroutine: Coroutine[Any, Any, _T], *, what: str, instead: str) -> _T:
    """Run `coroutine` to its end on the background loop and return (or raise) its result.

    Args:
        what: the sync call, for the error (`"Agent.run_sync()"`).
        instead: what to write inside async code (`"await agent.run(...)"`).

    Ctrl-C (`KeyboardInterrupt`) while it waits cancels the coroutine, gives it up to 5 s to
    finish, and goes on as `KeyboardInterrupt`.

    Raises:
        RuntimeError: called where an event loop runs in this thread (it would block it); the
            message names ``instead``.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coroutine.close()
        raise RuntimeError(
            f"{what} cannot run inside a running event loop (it would block it); "
            f"use `{instead}` there instead"
        )
    loop = sync_loop()
    outcome: concurrent.futures.Future[_T] = concurrent.futures.Future()
    started: list[asyncio.Task[_T]] = []

    def start() -> None:
        task = loop.create_task(coroutine)
        started.append(task)
        task.add_done_callback(functools.partial(_copy_outcome, outcome))

    try:
        loop.call_soon_threadsafe(start)
        return outcome.result()
    except KeyboardInterrupt:
        # Ctrl-C in the caller's thread: cancel the coroutine (`start` has run by then: the
        # loop runs its callbacks in order), let it clean up, then let the interrupt go on.
        loop.call_soon_threadsafe(lambda: started and started[0].cancel())
        with contextlib.suppress(BaseException):
            outcome.result(timeout=5)
        raise


def _copy_outcome(outcome: concurrent.futures.Future[_T], task: asyncio.Task[_T]) -> None:
    if task.cancelled():
        outcome.cancel()
    elif (error := task.exception()) is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(task.result())
