"""Typed events of a voice conversation, for UIs, speech output and logs.

`Agent.run(..., on_event=...)` emits the turn-level events; `Agent.listen` emits all of them,
adding the hearing side (speech started, utterance ended).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from agent.audio.events import SpeechStarted, UtteranceDropped, UtteranceEnded
from agent.speech.queue import SpeakingFinished, SpeakingInterrupted, SpeakingStarted

if TYPE_CHECKING:
    from agent.audio import Utterance
    from agent.turn import Turn
    from tools import ToolResult

__all__ = [
    "AgentEvent",
    "EventHandler",
    "ReplyText",
    "SpeakingFinished",
    "SpeakingInterrupted",
    "SpeakingStarted",
    "SpeechStarted",
    "ToolCallFinished",
    "ToolCallStarted",
    "TurnFailed",
    "TurnFinished",
    "TurnStarted",
    "UtteranceDropped",
    "UtteranceEnded",
]


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """A user turn is being sent to the model."""

    index: int
    utterance: Utterance | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """The model called a tool; the toolbox is running it."""

    call_id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    """A tool call finished (successfully or not); `result.content` went back to the model."""

    result: ToolResult


@dataclass(frozen=True, slots=True)
class ReplyText:
    """Reply text from the model: a streamed delta, or the whole reply when not streaming."""

    delta: str


@dataclass(frozen=True, slots=True)
class TurnFinished:
    """A turn finished; `turn` holds the reply, tool results, usage and timings."""

    turn: Turn


@dataclass(frozen=True, slots=True)
class TurnFailed:
    """A turn failed; the history is as it was before it, and the utterance is kept here."""

    error: BaseException
    utterance: Utterance | None = None
    text: str | None = None


AgentEvent: TypeAlias = (
    SpeechStarted
    | UtteranceEnded
    | UtteranceDropped
    | TurnStarted
    | ToolCallStarted
    | ToolCallFinished
    | ReplyText
    | TurnFinished
    | TurnFailed
    | SpeakingStarted
    | SpeakingFinished
    | SpeakingInterrupted
)

EventHandler: TypeAlias = Callable[[AgentEvent], Awaitable[None] | None]
"""A callback for events; may be sync or async. It must not block."""
