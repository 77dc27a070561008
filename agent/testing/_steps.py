"""What a `ScriptedServer` answers, one step per chat request, and what it received."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from agent._probe import is_tool_calling_probe
from agent._rules import count_audio_items

__all__ = ["Expectation", "RecordedRequest", "ScriptedCall", "Step"]

StepKind = Literal["reply", "http_error", "stream_error", "cut_stream", "disconnect"]


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
    """One scripted answer to one `/v1/chat/completions` request.

    Attributes:
        kind: `reply` (text and/or tool calls), `http_error` (status + vLLM error body),
            `stream_error` (a 200 whose stream carries an error line; a plain `http_error`
            when the request is not streamed), `cut_stream` (a 200 stream that ends after
            `content` with no finish chunk and no `[DONE]`), or `disconnect` (the connection
            closes without an answer).
        content: the reply text.
        tool_calls: the tool calls of the reply.
        finish_reason: overrides the natural one (`stop`, `tool_calls`, `length`).
        status: the HTTP status of an `http_error`.
        message: the error message.
        delay: seconds to wait before answering.
        chunk_delay: seconds between streamed chunks.
        expect: called with the request before answering; an `AssertionError` it raises
            fails the step (answered with a 500 and reported by `ScriptedServer.verify`).
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


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request the server received.

    Attributes:
        path: the URL path (`/v1/chat/completions`, `/v1/audio/transcriptions`, ...).
        body: the JSON body (chat) or the form fields (transcription; the file as `file`).
        status: the HTTP status the server answered.
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
