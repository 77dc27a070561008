"""Typed events of a voice conversation, for UIs, speech output and logs.

`Agent.run(..., on_event=...)` emits the turn-level events; `Agent.listen` emits all of them,
adding the hearing side (speech started, utterance ended).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic_core import to_jsonable_python

from agent.audio.events import SpeechStarted, UtteranceDropped, UtteranceEnded
from agent.speech.queue import SpeakingFinished, SpeakingInterrupted, SpeakingStarted
from tools._printing import safe_str

if TYPE_CHECKING:
    from agent.audio import Utterance
    from agent.turn import Turn
    from tools import ToolResult

__all__ = [
    "AgentEvent",
    "Asleep",
    "Awake",
    "EventHandler",
    "ReplyText",
    "SpeakingFinished",
    "SpeakingInterrupted",
    "SpeakingStarted",
    "SpeculationDropped",
    "SpeculationStarted",
    "SpeechStarted",
    "ToolCallFinished",
    "ToolCallStarted",
    "TurnFailed",
    "TurnFinished",
    "TurnStarted",
    "TurnTranscribed",
    "UtteranceDropped",
    "UtteranceEnded",
]


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """A user turn is being sent to the model."""

    index: int
    utterance: Utterance | None = None
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "turn_started", "index", "utterance", "text"}``."""
        return {
            "type": "turn_started",
            "index": self.index,
            "utterance": self.utterance.to_dict() if self.utterance is not None else None,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """The model called a tool; the toolbox is running it."""

    call_id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "tool_call_started", "call_id", "name", "arguments"}``."""
        return {
            "type": "tool_call_started",
            "call_id": self.call_id,
            "name": self.name,
            "arguments": to_jsonable_python(self.arguments, fallback=repr),
        }


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    """A tool call finished (successfully or not); `result.content` went back to the model."""

    result: ToolResult

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "tool_call_finished", "result": {...}}``."""
        return {"type": "tool_call_finished", "result": self.result.to_dict()}


@dataclass(frozen=True, slots=True)
class ReplyText:
    """Reply text from the model: a streamed delta, or the whole reply when not streaming."""

    delta: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "reply_text", "delta"}``."""
        return {"type": "reply_text", "delta": self.delta}


@dataclass(frozen=True, slots=True)
class TurnFinished:
    """A turn finished; `turn` holds the reply, tool results, usage and timings."""

    turn: Turn

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "turn_finished", "turn": Turn.to_dict()}``."""
        return {"type": "turn_finished", "turn": self.turn.to_dict()}


@dataclass(frozen=True, slots=True)
class TurnTranscribed:
    """A turn's transcription is over, made beside the turn (so it may come before or after
    its `TurnFinished`); `transcript` is None when it failed."""

    index: int
    transcript: str | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "turn_transcribed", "index", "transcript"}``."""
        return {"type": "turn_transcribed", "index": self.index, "transcript": self.transcript}


@dataclass(frozen=True, slots=True)
class TurnFailed:
    """A turn failed; the utterance is kept here. The history is as it was before the turn,
    unless the turn's tools ran (then it is recorded as interrupted)."""

    error: BaseException
    utterance: Utterance | None = None
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the error as its type and message (no exception object)."""
        return {
            "type": "turn_failed",
            "error": {"type": type(self.error).__name__, "message": safe_str(self.error)},
            "utterance": self.utterance.to_dict() if self.utterance is not None else None,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class SpeculationStarted:
    """A speculative request started at a pause, before the turn is committed; `at` is
    the stream time (seconds) and `utterance` the audio it carries."""

    at: float
    utterance: Utterance

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "speculation_started", "at", "utterance"}``."""
        return {
            "type": "speculation_started",
            "at": round(self.at, 3),
            "utterance": self.utterance.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class SpeculationDropped:
    """A speculative request was cancelled, wasted: the user went on speaking (or the turn
    ended otherwise); `at` is the stream time (seconds)."""

    at: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "speculation_dropped", "at", "reason"}``."""
        return {"type": "speculation_dropped", "at": round(self.at, 3), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Awake:
    """The wake word was heard while the assistant slept (`listen(wake_word=...)`): from `at`
    (seconds into the stream, where the word ended) it runs what it hears as turns."""

    at: float
    wake_word: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "awake", "at", "wake_word"}``."""
        return {"type": "awake", "at": self.at, "wake_word": self.wake_word}


@dataclass(frozen=True, slots=True)
class Asleep:
    """The assistant sleeps from `at` (seconds into the stream): at the start of a stream
    with a wake word, and when its conversation window closed. What it hears now is dropped
    unless the wake word is in it."""

    at: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"type": "asleep", "at"}``."""
        return {"type": "asleep", "at": self.at}


AgentEvent: TypeAlias = (
    SpeechStarted
    | UtteranceEnded
    | UtteranceDropped
    | TurnStarted
    | ToolCallStarted
    | ToolCallFinished
    | ReplyText
    | TurnFinished
    | TurnTranscribed
    | TurnFailed
    | SpeakingStarted
    | SpeakingFinished
    | SpeakingInterrupted
    | SpeculationStarted
    | SpeculationDropped
    | Awake
    | Asleep
)

EventHandler: TypeAlias = Callable[[AgentEvent], Awaitable[None] | None]
"""A callback for events; may be sync or async. It must not block."""
