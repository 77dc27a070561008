"""Helpers shared by the tools tests: rendezvous instead of sleeps, and what every failure has.

Concurrency is proven by a `Rendezvous` (every party waits until all have arrived, so they
ran at the same time) and progress by events set from the worker thread, never by timing.
"""

from __future__ import annotations

import asyncio
import threading

from tools import ToolResult

WAIT = 30.0
"""Seconds a helper waits for something that should happen at once (only a failure waits)."""


class Rendezvous:
    """Holds each of ``parties`` callers until all have arrived: proof they ran together.

    Sync code calls `meet_in_thread`, async code `meet`; each says whether all arrived (False
    only when it gave up after `WAIT` seconds, i.e. the parties did not run at the same time).
    """

    def __init__(self, parties: int) -> None:
        self._parties = parties
        self._arrived = 0
        self._lock = threading.Lock()
        self._everyone = threading.Event()

    def _arrive(self) -> None:
        with self._lock:
            self._arrived += 1
            if self._arrived >= self._parties:
                self._everyone.set()

    def meet_in_thread(self) -> bool:
        self._arrive()
        return self._everyone.wait(WAIT)

    async def meet(self) -> bool:
        self._arrive()
        return await asyncio.to_thread(self._everyone.wait, WAIT)


class LoopEvent:
    """An `asyncio.Event` of the running loop that any thread may set."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def set(self) -> None:
        self._loop.call_soon_threadsafe(self._event.set)

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await asyncio.wait_for(self._event.wait(), WAIT)


def assert_failed(result: ToolResult, kind: str | None = None) -> None:
    """What every failed call has in common (and its `error_kind`, when given)."""
    assert isinstance(result, ToolResult)
    assert result.ok is False
    assert result.value is None
    assert isinstance(result.content, str) and result.content
    assert type(result.content) is str
    assert result.error == result.content
    assert "Traceback" not in result.content
    if kind is not None:
        assert result.error_kind == kind, result.content
