"""`Turn`: what one user turn produced (reply, tool results, transcript, usage, timings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools import ToolResult

__all__ = ["Timings", "Turn", "Usage"]


@dataclass(slots=True)
class Usage:
    """Tokens the server counted, summed over every model call of the turn."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Count one more model call."""
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens


@dataclass(slots=True)
class Timings:
    """Seconds spent in the turn.

    Attributes:
        model: waiting for the model, summed over every call of the turn.
        tools: running tools (each round's concurrent calls count once, as wall time).
        total: the whole turn, from `run` to the reply.
        time_to_first_token: from `run` to the first streamed token of the first model call
            (to the whole first response when not streaming); None if no call answered.
        transcription: the transcription request for the turn's audio (it runs concurrently
            with the model, so it is not part of `total`'s critical path); None if none ran.
        speech_end: where the turn's speech ended, in seconds on the stream's timeline (from
            the start of the recording or microphone stream); None outside `listen`.
        committed_at: when the turn was committed (the endpointer decided it had ended), on
            the stream's timeline; None outside `listen`.
        tool_dispatched_at: for each tool call (by call id), when it was dispatched, on the
            stream's timeline (for a recording read faster than real time: how far it had
            been read); empty outside `listen`.
        from_speculation: the first reply came from a speculative request, started at a
            pause before the turn was committed (`listen(..., speculate=True)`).
    """

    model: float = 0.0
    tools: float = 0.0
    total: float = 0.0
    time_to_first_token: float | None = None
    transcription: float | None = None
    speech_end: float | None = None
    committed_at: float | None = None
    tool_dispatched_at: dict[str, float] = field(default_factory=dict)
    from_speculation: bool = False

    @property
    def first_tool_dispatched_at(self) -> float | None:
        """When the turn's first tool call was dispatched (stream timeline), if any."""
        return min(self.tool_dispatched_at.values(), default=None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (stream-timeline figures rounded to the millisecond)."""
        return {
            "model": self.model,
            "tools": self.tools,
            "total": self.total,
            "time_to_first_token": self.time_to_first_token,
            "transcription": self.transcription,
            "speech_end": _ms(self.speech_end),
            "committed_at": _ms(self.committed_at),
            "tool_dispatched_at": {key: _ms(at) for key, at in self.tool_dispatched_at.items()},
            "from_speculation": self.from_speculation,
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


@dataclass(slots=True)
class Turn:
    """The outcome of one user turn.

    Attributes:
        text: the final assistant reply ("" when the model said nothing).
        tool_results: every tool call of the turn, all rounds, in call order.
        transcript: what the user said, when a transcript was made; else None.
        usage: prompt and completion tokens over all model calls of the turn.
        timings: seconds spent (see `Timings`).
        rounds: model calls made in the turn (1 when no tool ran).
        index: the turn's number in the conversation, from 0.
        user_text: the text the caller passed with the turn (None if audio only).
        audio_seconds: total length of the turn's audio clips.
        finish_reason: the last model call's finish reason ("stop", "tool_calls", "length").
        hit_tool_round_limit: True when the turn stopped at `max_tool_rounds`.
    """

    text: str = ""
    tool_results: list[ToolResult] = field(default_factory=list)
    transcript: str | None = None
    usage: Usage = field(default_factory=Usage)
    timings: Timings = field(default_factory=Timings)
    rounds: int = 0
    index: int = 0
    user_text: str | None = None
    audio_seconds: float = 0.0
    finish_reason: str | None = None
    hit_tool_round_limit: bool = False

    @property
    def tool_calls(self) -> list[str]:
        """The names of the tools called, in order."""
        return [result.name for result in self.tool_results]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, one line of a JSONL log."""
        return {
            "index": self.index,
            "user_text": self.user_text,
            "transcript": self.transcript,
            "audio_seconds": round(self.audio_seconds, 3),
            "text": self.text,
            "tool_results": [result.to_dict() for result in self.tool_results],
            "rounds": self.rounds,
            "finish_reason": self.finish_reason,
            "hit_tool_round_limit": self.hit_tool_round_limit,
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
            },
            "timings": self.timings.to_dict(),
        }
