"""Worker threads for sync tools and approvers: daemon threads, so a hung tool never holds exit.

`concurrent.futures.ThreadPoolExecutor` joins its threads when the interpreter exits, so one
sync tool stuck in a blocking call (its call long timed out) would keep the process alive after
Ctrl-C. These threads are daemons: the process exits without them. A job's result goes straight
to an asyncio future on the caller's loop, with no `concurrent.futures.Future` in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

from tools._printing import describe_error, safe_repr

__all__ = ["WorkerInterrupted", "WorkerThreads", "run_blocking"]

T = TypeVar("T")
_Job: TypeAlias = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


class WorkerInterrupted(Exception):
    """A job raised a `BaseException` that is not an `Exception` (``KeyboardInterrupt``,
    ``SystemExit``...) in its worker thread; it is not a signal to the caller, so it comes back
    wrapped as an ordinary error. The original is ``error``."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error

    def __str__(self) -> str:
        return describe_error(self.error)

    def __repr__(self) -> str:
        return f"WorkerInterrupted({safe_repr(self.error)})"


class WorkerThreads:
    """A growing set of reusable daemon threads that run blocking jobs for the event loop.

    A job goes to an idle thread, else to a new one while there are fewer than ``max_threads``,
    else waits for a thread to come free. Threads live as long as the process, like a thread
    pool's, but never delay its exit. A thread is back in the idle set before its job's result
    reaches the caller, so a job started after another one's result came back reuses its
    thread (no race between the two).
    """

    def __init__(self, max_threads: int, name: str) -> None:
        self._max_threads = max_threads
        self._name = name
        self._reset()
        # A forked child has none of the parent's threads: start afresh there.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._started = 0

    @property
    def thread_count(self) -> int:
        """How many threads have been started (they live as long as the process)."""
        return self._started

    async def run(self, job: Callable[[], T]) -> T:
        """Run ``job()`` in a worker thread and return (or raise) what it gives.

        Cancelling the caller stops the waiting, not the job: a running job finishes in its
        thread and its result is dropped; a job still queued is skipped.

        Raises:
            WorkerInterrupted: the job raised a BaseException that is not an Exception.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, job))
        if not self._idle.acquire(blocking=False):
            self._start_thread()
        return await future

    def _start_thread(self) -> None:
        with self._lock:
            if self._started >= self._max_threads:
                return  # all busy: the job waits in the queue
            self._started += 1
            number = self._started
        worker = threading.Thread(target=self._work, name=f"{self._name}-{number}", daemon=True)
        worker.start()

    def _work(self) -> None:
        while True:
            loop, future, job = self._jobs.get()
            outcome = None if future.cancelled() else _outcome(job)
            # Idle again before the caller hears the result: a job it starts next, once it
            # has this one's result, finds this thread free (deterministic reuse).
            self._idle.release()
            if outcome is not None:
                _deliver(loop, future, *outcome)
            del loop, future, job, outcome  # hold no result or frame while idle


def _outcome(job: Callable[[], Any]) -> tuple[Any, Exception | None]:
    """``(value, None)`` or ``(None, error)``: what ``job()`` gave; never raises."""
    try:
        return job(), None
    except Exception as error:
        return None, error
    except BaseException as error:  # not a signal in this thread: report it, keep the thread
        return None, WorkerInterrupted(error)


def _deliver(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    value: Any,
    error: Exception | None,
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits for this any more
        loop.call_soon_threadsafe(_settle, future, value, error)


def _settle(future: asyncio.Future[Any], value: Any, error: Exception | None) -> None:
    if future.done():  # the caller stopped waiting (timeout, cancellation)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


_blocking = WorkerThreads(32, "voxagent-blocking")


async def run_blocking(job: Callable[[], T]) -> T:
    """Run one blocking call (a device query, a file decode, `input()`) off the event loop.

    The one helper for blocking work outside tools: a daemon worker thread (never holding the
    process's exit, unlike `asyncio.to_thread`), shared by the whole process.
    """
    return await _blocking.run(job)
