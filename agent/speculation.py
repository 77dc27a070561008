"""Speculative requests: a turn's first model call, started at a pause before the turn ends.

At a short pause (`EndpointerConfig.speculation_pause_s`) the listening loop asks `Agent.speculate`
for the model's answer to the audio heard so far. If the user goes on speaking, the request
is cancelled (its HTTP request is closed, so vLLM aborts it). If the turn is committed with no
new speech, `Agent.run(speculation=...)` adopts the answer instead of sending a new request.
Until then its streamed text is held back, and its tool calls run only in the committed turn,
as any turn's do: a half-heard "set a timer for..." sets no timer. A speculative request that
fails never fails the turn: the turn asks again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from agent.audio import Utterance
from agent.backend import ModelReply
from agent.tool_choice import ToolChoice

__all__ = ["Speculation", "TextSink"]

_log = logging.getLogger("agent")

TextSink = Callable[[str], Awaitable[None]]
"""Where a streamed reply's text deltas go."""


class _TextRelay:
    """Holds a stream's text deltas until a sink is attached, then passes them on, in order."""

    def __init__(self) -> None:
        self._held: list[str] = []
        self._sink: TextSink | None = None
        self.delivered = False

    async def feed(self, delta: str) -> None:
        if self._sink is None:
            self._held.append(delta)
            return
        self.delivered = True
        await self._sink(delta)

    async def attach(self, sink: TextSink) -> None:
        # Deltas fed while the held ones are delivered join the held ones, so the order stays.
        while self._held:
            delta = self._held.pop(0)
            self.delivered = True
            await sink(delta)
        self._sink = sink


class Speculation:
    """A turn's first model call, started on the audio heard so far (see the module).

    Made by `Agent.speculate`; pass it to `Agent.run(speculation=...)` once the turn is
    committed, or `cancel()` it when the user goes on speaking.

    Attributes:
        utterance: the audio the request carries (the turn up to the pause).
        tool_choice: the tool choice it was made with (None: the agent's own).
        style: the spoken-style instruction it carries (None: no voice).
        version: the history's version it was made on (`History.version`).
    """

    def __init__(
        self,
        utterance: Utterance,
        request: Callable[[TextSink], Coroutine[Any, Any, ModelReply]],
        *,
        tool_choice: ToolChoice | None,
        style: str | None,
        version: int,
    ) -> None:
        self.utterance = utterance
        self.tool_choice = tool_choice
        self.style = style
        self.version = version
        self._relay = _TextRelay()
        self._task: asyncio.Task[ModelReply] = asyncio.get_running_loop().create_task(
            request(self._relay.feed), name="voxagent-speculation"
        )
        self._task.add_done_callback(_retrieved)

    @property
    def done(self) -> bool:
        """The request has ended (answered, failed or cancelled)."""
        return self._task.done()

    def matches(self, utterance: Utterance) -> bool:
        """Whether `utterance` is the turn this request was made for, with no speech since."""
        return utterance.start == self.utterance.start and utterance.end == self.utterance.end

    def cancel(self) -> None:
        """Drop the request (its HTTP request is closed); nothing of it reaches anyone."""
        self._task.cancel()

    async def adopt(self, on_text: TextSink | None) -> ModelReply | None:
        """The reply, its held text passed to `on_text` first and the rest as it streams;
        None when the request failed before any of its text was passed on (ask again).

        Cancelling this cancels the request.
        """
        if on_text is not None:
            await self._relay.attach(on_text)
        try:
            return await self._task
        except asyncio.CancelledError:
            if self._task.cancelled() and not _cancelling():
                return None  # it was cancelled before, not this caller
            raise
        except Exception as error:
            if self._relay.delivered:
                raise
            _log.info("speculative request failed (%s); the turn asks again", error)
            return None

    def __repr__(self) -> str:
        state = "done" if self.done else "running"
        return f"Speculation({self.utterance.start:.2f}-{self.utterance.end:.2f} s, {state})"


def _retrieved(task: asyncio.Task[Any]) -> None:
    """A dropped request's failure is expected: read it so asyncio does not log it."""
    if not task.cancelled():
        task.exception()


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
