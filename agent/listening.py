"""The listening loop behind `Agent.listen` and `Agent.replay`.

source ──frames──▶ Endpointer ──utterances──▶ bounded queue ──▶ agent.run ──▶ events

Two tasks run side by side: a reader that keeps pulling frames from the source through the
endpointer (so hearing never pauses while the agent thinks), and a worker that runs one turn
per utterance, in order. Every utterance ends up in exactly one of: a turn (`TurnFinished` or
`TurnFailed`, which carries the utterance), or an `UtteranceDropped` event saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import AsyncGenerator
from typing import Any, Protocol

import numpy as np

from agent.audio import (
    SAMPLE_RATE,
    ArraySource,
    AudioSource,
    Endpointer,
    FrameHook,
    Utterance,
    WavSource,
    decode_audio,
)
from agent.events import (
    AgentEvent,
    EventHandler,
    SpeechStarted,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    UtteranceDropped,
    UtteranceEnded,
)
from agent.reply_text import emit
from agent.tool_choice import ToolChoice
from agent.turn import Turn
from tools._sync import run_sync
from tools._threads import run_blocking

__all__ = ["TurnRunner", "listen", "replay", "replay_async"]

_log = logging.getLogger("agent")


class TurnRunner(Protocol):
    """What the loop needs of an agent: `Agent.run` for one utterance."""

    async def run(
        self,
        audio: Any = None,
        *,
        sample_rate: int | None = None,
        tool_choice: ToolChoice | None = None,
        on_event: EventHandler | None = None,
    ) -> Turn:
        """Run one user turn on `audio`, emitting tool and reply events through `on_event`."""
        ...


_TURN_EVENTS = (TurnStarted, TurnFinished, TurnFailed)


async def listen(
    agent: TurnRunner,
    source: AudioSource,
    *,
    tool_choice: ToolChoice | None = None,
    endpointer: Endpointer | None = None,
    max_queued: int | None = 8,
    on_frame: FrameHook | None = None,
) -> AsyncGenerator[AgentEvent, None]:
    """Hear utterances from `source` and run one agent turn per utterance; yield the events.

    The source is read continuously, also while a turn runs; utterances that end meanwhile wait
    in a queue of at most `max_queued` (None: unbounded), in order. An utterance that finds the
    queue full is reported as `UtteranceDropped`. A failing turn yields `TurnFailed` with its
    utterance, and listening goes on. When the source ends, the queued turns still run; then the
    iteration ends (raising the source's error, if it failed). Closing or cancelling the
    iteration cancels the turn in progress and closes the source.

    Args:
        agent: the agent (anything with `Agent.run`'s signature).
        source: where the audio comes from (`Microphone`, `WavSource`, `ArraySource`, ...).
        tool_choice: for each turn's first model call (default: the agent's own).
        endpointer: how utterances are cut (it is reset first); default `Endpointer()`.
        max_queued: utterances that may wait while a turn runs.
        on_frame: called for every frame with its level (dBFS) and speech decision (for level
            meters); replaces the endpointer's own `on_frame`. Like event handlers, a hook
            that raises is logged, never fatal to listening.
    """
    if max_queued is not None and max_queued < 1:
        raise ValueError(f"max_queued must be at least 1 (or None), got {max_queued}")
    endpointer = endpointer if endpointer is not None else Endpointer()
    if on_frame is not None:
        endpointer.on_frame = _logged_on_failure(on_frame)
    endpointer.reset()
    loop = _ListeningLoop(agent, source, endpointer, max_queued, tool_choice)
    # aclosing: closing this generator must close the inner one now, not at garbage collection
    async with contextlib.aclosing(loop.run()) as events:
        async for event in events:
            yield event


class _Done:
    """End-of-events marker."""


class _ListeningLoop:
    def __init__(
        self,
        agent: TurnRunner,
        source: AudioSource,
        endpointer: Endpointer,
        max_queued: int | None,
        tool_choice: ToolChoice | None,
    ) -> None:
        self._agent = agent
        self._tool_choice = tool_choice
        self._source = source
        self._endpointer = endpointer
        self._max_queued = max_queued
        self._events: asyncio.Queue[AgentEvent | _Done] = asyncio.Queue()
        self._pending: deque[Utterance] = deque()
        self._wake = asyncio.Event()
        self._heard_all = False
        self._source_error: BaseException | None = None

    async def run(self) -> AsyncGenerator[AgentEvent, None]:
        reader = asyncio.create_task(self._read(), name="voxagent-listen-reader")
        worker = asyncio.create_task(self._work(), name="voxagent-listen-worker")
        try:
            while not isinstance(event := await self._events.get(), _Done):
                yield event
            await worker  # finished; re-raises what escaped it (not a turn's own failure)
            await reader
            if self._source_error is not None:
                raise self._source_error
        finally:
            for task in (reader, worker):
                task.cancel()
            await asyncio.gather(reader, worker, return_exceptions=True)
            await self._source.aclose()

    async def _read(self) -> None:
        """Pull frames through the endpointer until the source ends or fails."""
        try:
            async for frame in self._source:
                for event in await self._endpointer.feed_async(frame):
                    self._heard(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dead microphone, a corrupt file: end, then report
            self._source_error = exc
        for event in self._endpointer.flush():  # what was being said when the source ended
            self._heard(event)
        self._heard_all = True
        self._wake.set()

    def _heard(self, event: SpeechStarted | UtteranceEnded | UtteranceDropped) -> None:
        self._events.put_nowait(event)
        if not isinstance(event, UtteranceEnded):
            return
        if self._max_queued is not None and len(self._pending) >= self._max_queued:
            reason = (
                f"queue full: {len(self._pending)} utterances already waiting for the agent "
                f"(max_queued={self._max_queued})"
            )
            self._events.put_nowait(UtteranceDropped(utterance=event.utterance, reason=reason))
            return
        self._pending.append(event.utterance)
        self._wake.set()

    async def _work(self) -> None:
        """Run one turn per queued utterance, in order, until everything heard is answered."""
        try:
            count = 0
            while True:
                while not self._pending:
                    if self._heard_all:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                utterance = self._pending.popleft()
                # the turn's number in the conversation (`Agent.turns`), else in this loop
                index = getattr(self._agent, "turns", count)
                await self._turn(index if isinstance(index, int) else count, utterance)
                count += 1
        finally:
            self._events.put_nowait(_Done())

    async def _turn(self, index: int, utterance: Utterance) -> None:
        self._events.put_nowait(TurnStarted(index=index, utterance=utterance))

        def forward(event: AgentEvent) -> None:
            # The loop itself reports the turn's start and end, with the utterance attached.
            if not isinstance(event, _TURN_EVENTS):
                self._events.put_nowait(event)

        try:
            turn = await self._agent.run(
                audio=utterance.pcm,
                sample_rate=utterance.sample_rate,
                tool_choice=self._tool_choice,
                on_event=forward,
            )
        except Exception as exc:
            self._events.put_nowait(TurnFailed(error=exc, utterance=utterance))
        else:
            self._events.put_nowait(TurnFinished(turn=turn))


async def replay_async(
    agent: TurnRunner,
    audio: str | os.PathLike[str] | bytes | np.ndarray[Any, Any],
    *,
    sample_rate: int | None = None,
    tool_choice: ToolChoice | None = None,
    endpointer: Endpointer | None = None,
    realtime: bool = False,
    on_event: EventHandler | None = None,
    raise_on_error: bool = True,
) -> list[Turn]:
    """Every utterance of a recording through the agent, one turn each; the turns in order.

    Nothing is dropped: the queue is unbounded, since a file is read faster than turns run.

    Args:
        agent: the agent.
        audio: a file path, the bytes of a file, or samples (with their `sample_rate`).
        tool_choice: for each turn's first model call (default: the agent's own).
        endpointer: how utterances are cut; default `Endpointer()`.
        realtime: read the file at the pace of a microphone instead of as fast as possible.
        on_event: called with every event, as `listen` yields it.
        raise_on_error: re-raise the first failed turn's error (with a note saying which
            utterance); False: skip failed turns (they still reach `on_event`).
    """
    # Decoding bytes and resampling a long array take a while: not on the event loop.
    source = await run_blocking(lambda: _recording_source(audio, sample_rate, realtime))
    turns: list[Turn] = []
    events = listen(agent, source, tool_choice=tool_choice, endpointer=endpointer, max_queued=None)
    async with contextlib.aclosing(events):
        async for event in events:
            await emit(on_event, event)
            if isinstance(event, TurnFinished):
                turns.append(event.turn)
            elif isinstance(event, TurnFailed) and raise_on_error:
                where = event.utterance
                if where is not None:
                    event.error.add_note(
                        f"while replaying the utterance at {where.start:.2f}-{where.end:.2f} s"
                    )
                raise event.error
    return turns


def _recording_source(
    audio: str | os.PathLike[str] | bytes | np.ndarray[Any, Any],
    sample_rate: int | None,
    realtime: bool,
) -> AudioSource:
    """The source that plays `audio` (a file, its bytes, or samples) to the endpointer."""
    if isinstance(audio, str | os.PathLike):
        return WavSource(audio, realtime=realtime)
    if isinstance(audio, bytes | bytearray | memoryview):
        return ArraySource(decode_audio(bytes(audio)), SAMPLE_RATE, realtime=realtime)
    return ArraySource(audio, sample_rate, realtime=realtime)  # which requires the rate


def _logged_on_failure(hook: FrameHook) -> FrameHook:
    """`hook`, with what it raises logged (once per kind of error) instead of ending listening."""
    failed: set[type[BaseException]] = set()

    def safe(*args: Any) -> None:
        try:
            hook(*args)
        except Exception as error:
            if type(error) not in failed:
                failed.add(type(error))
                _log.exception("on_frame hook failed (logged once per error type)")

    return safe


def replay(
    agent: TurnRunner,
    audio: str | os.PathLike[str] | bytes | np.ndarray[Any, Any],
    **options: Any,
) -> list[Turn]:
    """Blocking `replay_async` (same options), for scripts; not inside a running event loop."""
    return run_sync(
        replay_async(agent, audio, **options),
        what="replay()",
        instead="await replay_async(...)` (or `await agent.replay_async(...)",
    )
