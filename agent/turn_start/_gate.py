"""`TurnGate`: what the listening loop asks, frame by frame, whether speech becomes a turn."""

from __future__ import annotations

from typing import Protocol, TypeAlias

from agent.audio import Endpointer
from agent.audio.convert import PCM16
from agent.audio.events import EndpointerEvent
from agent.events import Asleep, Awake

__all__ = ["HeardEvent", "OpenGate", "TurnGate"]

HeardEvent: TypeAlias = EndpointerEvent | Awake | Asleep
"""What a gate reports: the hearing events, and the assistant's sleeping and waking."""


class TurnGate(Protocol):
    """Between the frames and the turn queue: it feeds the endpointer and says which
    utterances run as turns (`UtteranceEnded`) and which do not (`UtteranceDropped`, with the
    reason). Clock-free: its time is the audio it was fed (seconds into the stream)."""

    paced: bool
    """Whether its decisions depend on when turns end on the stream's timeline (then a
    recording read in stream time waits while the agent works, so a replay decides the same)."""

    @property
    def admits_speech(self) -> bool:
        """Whether the endpointer's utterance in progress is to run as a turn, as far as is
        known now (the listening loop speculates only on such speech)."""
        ...

    async def start(self) -> list[HeardEvent]:
        """A new stream begins: forget the last one; the events of the state it starts in."""
        ...

    async def hear(self, frame: PCM16, *, busy: bool) -> list[HeardEvent]:
        """Feed one frame (`busy`: a turn is queued or running); the events it caused."""
        ...

    def flush(self) -> list[HeardEvent]:
        """The stream ended: the events of the speech that was still going on."""
        ...


class OpenGate:
    """No gate: every utterance the endpointer hears runs as a turn."""

    paced = False

    def __init__(self, endpointer: Endpointer) -> None:
        self._endpointer = endpointer

    @property
    def admits_speech(self) -> bool:
        """Always: every utterance is a turn."""
        return True

    async def start(self) -> list[HeardEvent]:
        """Nothing to forget (the endpointer is reset by `listen`)."""
        return []

    async def hear(self, frame: PCM16, *, busy: bool) -> list[HeardEvent]:
        """The endpointer's events, as they are."""
        return list(await self._endpointer.feed_async(frame))

    def flush(self) -> list[HeardEvent]:
        """The endpointer's last events."""
        return list(self._endpointer.flush())
