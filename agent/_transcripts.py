"""Transcripts of the turns' audio, made in the background and attached when they come.

A transcript only matters to later requests (it stands in for audio the history no longer
sends), so it never delays a reply: the turn returns as soon as its reply is ready, and the
transcript lands on the turn's record (and on the `Turn`) when the server gives it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from agent.backend import Backend
from agent.events import EventHandler, TurnTranscribed
from agent.history import TurnRecord
from agent.reply_text import emit
from agent.turn import Turn

__all__ = ["BackgroundTranscripts"]

_log = logging.getLogger("agent")


class BackgroundTranscripts:
    """The transcriptions still running for one conversation."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    def start(
        self,
        backend: Backend,
        model: str,
        language: str | None,
        record: TurnRecord,
        turn: Turn,
        on_event: EventHandler | None,
    ) -> asyncio.Task[None]:
        """Transcribe `record`'s clips; on success set `record.transcripts` and the turn's,
        and emit `TurnTranscribed`."""
        work = _transcribe(backend, model, language, record, turn, on_event)
        task = asyncio.create_task(work, name="voxagent-transcript")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def wait(self) -> None:
        """Until every transcription started so far has finished (or failed)."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def cancel(self) -> None:
        """Stop them all (the turns keep a text stand-in without a transcript)."""
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def _transcribe(
    backend: Backend,
    model: str,
    language: str | None,
    record: TurnRecord,
    turn: Turn,
    on_event: EventHandler | None,
) -> None:
    started = time.perf_counter()
    try:
        texts = await asyncio.gather(
            *(
                backend.transcribe(clip.wav(), model=model, language=language)
                for clip in record.clips
            )
        )
    except Exception as error:
        _log.warning(
            "transcription of turn %d failed (%s); it keeps a text stand-in", record.index, error
        )
        return
    finally:
        turn.timings.transcription = time.perf_counter() - started
    record.transcripts = list(texts)
    turn.transcript = record.transcript
    if turn.transcript:
        await emit(on_event, TurnTranscribed(turn.index, turn.transcript))
