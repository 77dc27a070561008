"""The hearing events: what the endpointer reports as it cuts a stream into utterances.

`agent.events` re-exports them beside the turn-level events, in its `AgentEvent` union. Each
has a JSON form (`to_dict`, with a `type` discriminator) for UIs and logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from agent.audio.utterance import Utterance

__all__ = ["EndpointerEvent", "SpeechStarted", "UtteranceDropped", "UtteranceEnded"]


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The endpointer heard speech begin; `at` is seconds into the audio stream."""

    at: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "speech_started", "at": seconds}``."""
        return {"type": "speech_started", "at": self.at}


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    """The endpointer decided an utterance is over; it is queued for a turn."""

    utterance: Utterance

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "utterance_ended", "utterance": {start, end, ...}}``."""
        return {"type": "utterance_ended", "utterance": self.utterance.to_dict()}


@dataclass(frozen=True, slots=True)
class UtteranceDropped:
    """An utterance was not sent to the model (queue full, or too short); never silent."""

    utterance: Utterance
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "utterance_dropped", "utterance": {...}, "reason": ...}``."""
        return {
            "type": "utterance_dropped",
            "utterance": self.utterance.to_dict(),
            "reason": self.reason,
        }


EndpointerEvent: TypeAlias = SpeechStarted | UtteranceEnded | UtteranceDropped
"""What `Endpointer.feed` returns: the hearing half of `agent.events.AgentEvent`."""
