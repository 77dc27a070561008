"""The backend seam: what a conversation needs from a model server, and the values it returns.

`Backend` is a `Protocol`: `VoxtralClient` (vLLM over HTTP) implements it, and so does
`agent.testing.ScriptedBackend` (in process, no sockets). `Agent(client=...)` takes any
implementation. This module imports no HTTP stack.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "Backend",
    "ModelReply",
    "ServerInfo",
    "TextCallback",
    "ToolCall",
    "resolve_base_url",
]

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
"""Where `voxagent serve` puts the server; `$VOXAGENT_BASE_URL` overrides it."""

BASE_URL_ENV = "VOXAGENT_BASE_URL"
"""The environment variable that names the server when no `base_url` is given."""


def resolve_base_url(base_url: str | None) -> str:
    """`base_url`, else `$VOXAGENT_BASE_URL`, else the default; without a trailing slash."""
    url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    return url.rstrip("/")


TextCallback = Callable[[str], Awaitable[None] | None]
"""Gets each streamed text delta of a reply, in order."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call as the server returned it; `arguments` is the raw JSON text."""

    id: str
    name: str
    arguments: str

    def to_openai(self) -> dict[str, Any]:
        """The call as it goes back in the assistant message (unchanged)."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(slots=True)
class ModelReply:
    """One chat completion, streamed or not, assembled."""

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token: float | None = None
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What `check_server` learnt about the server.

    Attributes:
        base_url: the API root that was asked.
        model: the model the agent will use.
        models: every model the server serves.
        max_model_len: the context length of `model` (None if the server did not say).
        tool_calling: whether `tool_choice="auto"` is enabled (`--enable-auto-tool-choice
            --tool-call-parser mistral`); None when not probed.
        tool_calling_message: the server's explanation when tool calling is off.
    """

    base_url: str
    model: str
    models: tuple[str, ...]
    max_model_len: int | None
    tool_calling: bool | None = None
    tool_calling_message: str | None = None


@runtime_checkable
class Backend(Protocol):
    """What a conversation needs from a model server.

    Every method raises `agent.errors` exceptions only (`ServerUnavailableError`,
    `ServerError`, `RequestRejectedError`, `StreamError`, `InvalidRequestError`), each with a
    message that names the server and what to do.
    """

    @property
    def base_url(self) -> str:
        """Where the server is (an API root, or a name for an in-process backend)."""
        ...

    async def server_info(self, model: str | None = None) -> ServerInfo:
        """The served models and the context length of `model` (default: the first)."""
        ...

    async def probe_tool_calling(self, model: str) -> tuple[bool, str | None]:
        """Whether `tool_choice="auto"` works, with the server's explanation when not."""
        ...

    async def chat(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        stream: bool = False,
        on_text: TextCallback | None = None,
        **sampling: Any,
    ) -> ModelReply:
        """One chat completion (OpenAI messages); `on_text` gets streamed text deltas.

        `sampling` holds `temperature`, `top_p` and `max_tokens` when they are set.
        """
        ...

    async def transcribe(
        self, wav: bytes, *, model: str, language: str | None = None, temperature: float = 0.0
    ) -> str:
        """The transcript of one WAV clip (16 kHz mono PCM16)."""
        ...

    async def aclose(self) -> None:
        """Release what the backend holds (connections); it may be used again after."""
        ...
