"""The agent's own backend, made for the event loop that uses it and closed when that loop ends.

HTTP connections belong to the event loop that opened them. An agent used from two loops (two
`asyncio.run` calls) gets a fresh `VoxtralClient` on the second; the first one is closed by a
small guard task when its loop ends (`asyncio.run` cancels leftover tasks before closing the
loop), so nothing leaks and `aclose()` never touches a closed loop. The sync wrappers all run
on one persistent loop (`tools._sync`), so they share one client. A backend the app passed in
is used as it is, on any loop, and never closed by the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from agent.backend import Backend

__all__ = ["BackendPerLoop"]


class BackendPerLoop:
    """Gives the backend for the running loop: the app's own, or one made by `factory`.

    Closing a made backend is always its guard's job (cancelled by `aclose`, by a change of
    loop, or by the end of its loop), so it is closed exactly once, on its own loop.
    """

    def __init__(
        self,
        factory: Callable[[], Backend],
        *,
        given: Backend | None = None,
        first: Backend | None = None,
    ) -> None:
        self._factory = factory
        self._given = given
        self._made: Backend | None = first  # adopted by the first loop that asks
        self._loop: asyncio.AbstractEventLoop | None = None
        self._guard: asyncio.Task[None] | None = None

    def peek(self) -> Backend:
        """A backend for reading its settings (`base_url`), made if none exists yet."""
        if self._given is not None:
            return self._given
        if self._made is None:
            self._made = self._factory()
        return self._made

    def get_nowait(self) -> Backend | None:
        """The backend made or given so far (None before the first use), for inspection."""
        return self._given if self._given is not None else self._made

    def get(self) -> Backend:
        """The backend to use on the running loop."""
        if self._given is not None:
            return self._given
        loop = asyncio.get_running_loop()
        if self._made is not None and self._loop is loop:
            return self._made
        if self._made is not None and self._loop is not None:
            self._release_elsewhere()
        if self._made is None:
            self._made = self._factory()
        self._loop = loop
        self._guard = loop.create_task(_close_when_loop_ends(self._made), name="voxagent-close")
        # A loop closed without cancelling its tasks (not `asyncio.run`'s way) drops the guard
        # unrun; that is the app not closing its agent, not an error of the guard's own.
        self._guard._log_destroy_pending = False  # type: ignore[attr-defined]
        return self._made

    async def aclose(self) -> None:
        """Close the backend the agent made (never the app's own)."""
        loop, guard = self._loop, self._guard
        self._made = self._loop = self._guard = None
        if loop is None or guard is None:
            return
        if loop is asyncio.get_running_loop():
            await _stop(guard)
        elif not loop.is_closed():  # the sync loop, or another live loop: close it there
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_stop(guard), loop))
        # A closed loop: its guard closed the backend as the loop ended.

    def _release_elsewhere(self) -> None:
        """The running loop is new: the old backend is closed on its own loop, by its guard."""
        old_loop, guard = self._loop, self._guard
        self._made = self._loop = self._guard = None
        if old_loop is not None and guard is not None and not old_loop.is_closed():
            with contextlib.suppress(RuntimeError):  # it closed between the check and the call
                old_loop.call_soon_threadsafe(guard.cancel)


async def _stop(guard: asyncio.Task[None]) -> None:
    """Cancel a guard and wait until it has closed its backend."""
    guard.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await guard


async def _close_when_loop_ends(backend: Backend) -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        await backend.aclose()
        raise
