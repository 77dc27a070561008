"""What a scripted vLLM answers, one step per request (chat or transcription), and what it
received: the values `ScriptedServer` and `ScriptedBackend` share."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agent._probe import is_tool_calling_probe

__all__ = ["Expectation", "RecordedRequest", "ScriptedCall", "Step", "StepKind"]

StepKind = Literal[
    "reply",
    "http_error",
    "stream_error",
    "cut_stream",
    "disconnect",
    "bad_body",
    "reset",
    "trickle",
    "hang",
]


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    """A tool call the scripted model makes; `arguments` is a dict or raw (maybe broken) JSON."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        """The arguments as the server sends them (vLLM's `json.dumps` spacing)."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted answer to one request (`/v1/chat/completions`, or a transcription).

    Kinds:
        `reply`: the model's text and/or tool calls (a transcription: `content` is the text).
        `http_error`: `status` with vLLM's error body for `message` (or the raw `body`), and
            `headers` (e.g. `{"Retry-After": "2"}` on a 429).
        `stream_error`: a 200 stream that sends `content`, then vLLM's error line with
            `message`; answered as an `http_error` when the request is not streamed.
        `cut_stream`: a 200 stream that sends `content` and ends its HTTP body cleanly (the
            last chunk of the chunked encoding) with no finish chunk and no `[DONE]`; answered
            as an `http_error` when the request is not streamed.
        `disconnect`: the connection closes (FIN) before any answer.
        `bad_body`: a 200 whose body is unusable: `body` sent as is with `content_type`
            (invalid JSON, an HTML page, `[]`, `null`), streamed or not.
        `reset`: the TCP connection is reset (RST) mid-body: streamed, after the role chunk
            and the text deltas of `content`/`deltas` (no finish chunk, no `[DONE]`, no end of
            the chunked body); not streamed, after the headers and half of the JSON body.
        `trickle`: the model emits `content` (default ".") every `chunk_delay` seconds for
            `duration` seconds, or with `duration=None` until the client goes away or the
            server stops; a stream sends each as a text delta and then finishes normally; a
            plain reply sends a space of JSON whitespace each time and then the completion
            (its content all that was emitted).
        `hang`: the request is read and never answered, until the client goes away or the
            server stops.

    Attributes:
        kind: one of the kinds above.
        content: the reply text (streamed in 8-character deltas unless `deltas` is given).
        deltas: the exact streamed text deltas (`content` is then their concatenation).
        tool_calls: the tool calls of the reply.
        finish_reason: overrides the natural one (`stop`, `tool_calls`, `length`).
        status: the HTTP status of an `http_error`.
        message: the error message.
        headers: extra response headers (any kind that answers).
        body: the raw response body of a `bad_body` (or of an `http_error`, replacing vLLM's).
        content_type: the content type of `body`.
        delay: seconds to wait before answering (`math.inf`: as `hang`).
        chunk_delay: seconds between streamed chunks (a `trickle`'s period, > 0).
        duration: how long a `trickle` lasts (None: until the client goes away).
        expect: called with the request before answering; an `AssertionError` it raises
            fails the step (answered with a 400 and reported by `verify()`).
    """

    kind: StepKind = "reply"
    content: str = ""
    tool_calls: tuple[ScriptedCall, ...] = ()
    finish_reason: str | None = None
    status: int = 500
    message: str = ""
    delay: float = 0.0
    chunk_delay: float = 0.0
    expect: Expectation | None = None
    deltas: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    body: str | None = None
    content_type: str = "application/json"
    duration: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", dict(self.headers))  # a copy: the step is frozen
        object.__setattr__(self, "deltas", tuple(self.deltas))
        if self.deltas:
            joined = "".join(self.deltas)
            if self.content and self.content != joined:
                raise ValueError("Step: give `content` or `deltas` (or both, equal), not both")
            object.__setattr__(self, "content", joined)
        if self.kind == "trickle" and not self.chunk_delay > 0:
            raise ValueError("Step(kind='trickle') needs chunk_delay > 0 (seconds between chunks)")
        if self.kind == "bad_body" and self.body is None:
            raise ValueError("Step(kind='bad_body') needs body= (the raw text to send)")
        if self.delay < 0 or math.isnan(self.delay):
            raise ValueError(f"Step: delay must be >= 0 seconds, not {self.delay}")

    def answered_as(self, streamed: bool) -> StepKind:
        """The kind that really answers: a stream-only fault is an `http_error` for a request
        that is not streamed."""
        if not streamed and self.kind in ("stream_error", "cut_stream"):
            return "http_error"
        return self.kind

    def outcome(self, streamed: bool) -> tuple[int, str | None]:
        """The (status, error) a request this step answers is recorded with."""
        kind = self.answered_as(streamed)
        if kind == "http_error":
            return self.status, self.message
        if kind in ("disconnect", "hang") or math.isinf(self.delay):
            return 0, "disconnected" if kind == "disconnect" else "never answered"
        if kind == "reset":
            return 200, "connection reset mid-body"
        if kind == "bad_body":
            return 200, "unusable body"
        return 200, None

    @property
    def text_deltas(self) -> tuple[str, ...]:
        """The streamed text deltas: `deltas`, else `content` in 8-character pieces."""
        if self.deltas:
            return self.deltas
        return tuple(self.content[start : start + 8] for start in range(0, len(self.content), 8))


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request the server received.

    Attributes:
        path: the URL path (`/v1/chat/completions`, `/v1/audio/transcriptions`, ...).
        body: the JSON body (chat) or the form fields (transcription; the file as `file`).
        status: the HTTP status the server answered (0: no answer, for a `disconnect` or a
            `hang`; 200 for a `reset` or a `bad_body`, whose `error` says so).
        error: the error message the server answered with, if any.
    """

    path: str
    body: dict[str, Any]
    status: int = 200
    error: str | None = None

    @property
    def is_probe(self) -> bool:
        """Whether this is the tool-calling probe of `Agent.check_server`."""
        return self.path.endswith("/chat/completions") and is_tool_calling_probe(self.body)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages."""
        return list(self.body.get("messages") or [])

    @property
    def roles(self) -> list[str]:
        """The role of each message."""
        return [str(message.get("role")) for message in self.messages]

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tool definitions sent."""
        return list(self.body.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools sent."""
        return [str(item.get("function", {}).get("name")) for item in self.tools]

    @property
    def tool_choice(self) -> Any:
        """The `tool_choice` sent (None if absent)."""
        return self.body.get("tool_choice")

    @property
    def stream(self) -> bool:
        """Whether the response was asked streamed."""
        return bool(self.body.get("stream"))

    @property
    def audio_count(self) -> int:
        """Audio items in the whole request."""
        from agent._rules import count_audio_items  # mistral-common: imported when asked

        return count_audio_items(self.messages)

    @property
    def texts(self) -> list[str]:
        """Every text in the messages (plain content and text parts), in order."""
        found: list[str] = []
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, str):
                found.append(content)
            elif isinstance(content, list):
                found.extend(
                    str(part.get("text", ""))
                    for part in content
                    if isinstance(part, dict) and part.get("type") == "text"
                )
        return found

    @property
    def tool_messages(self) -> list[dict[str, Any]]:
        """The `tool` messages, in order."""
        return [message for message in self.messages if message.get("role") == "tool"]


Expectation = Callable[[RecordedRequest], object]
"""A step's check of the request it answers: an `AssertionError` it raises fails the step."""
