"""`ScriptedBackend`: an in-process `agent.backend.Backend` that answers from a script.

It is `VoxtralClient` itself over an in-process transport (`ScriptTransport`) that carries out
the same wire plan as `ScriptedServer`, from the same script, steps and vLLM rules: each step
ends exactly as it ends over HTTP (the same `ModelReply`, the same `agent.errors` exception,
the same retries), without sockets or threads.
"""

from __future__ import annotations

from typing import Any, Unpack

import httpx2

from agent.backend import ModelReply, ServerInfo, TextCallback
from agent.client import VoxtralClient
from agent.testing._script import ScriptOptions
from agent.testing._scripting import Scripting
from agent.testing._transport import ScriptTransport

__all__ = ["ScriptedBackend"]


class ScriptedBackend(Scripting):
    """A `Backend` in process: the script of a `ScriptedServer` without the server.

    Script it with the same methods (`reply`, `reply_tool_call`, `fail`, `cut_stream`,
    `reset_connection`, `trickle`, `hang`, `transcribe_as`, ...) and give it to
    `Agent(client=...)`. Each request goes through the same vLLM rules and takes the same step
    as with `ScriptedServer` + `VoxtralClient`, and ends the same way: text deltas through
    `on_text`, tool calls with 9-character ids, and for a fault the exception the client
    raises (a 4xx: `RequestRejectedError` with vLLM's message; a 5xx, 429 or unusable 200:
    `ServerError`; `disconnect`, a reset before any text, a `hang` past `timeout`:
    `ServerUnavailableError`; an error line, or any break after text reached the caller:
    `StreamError`, never replayed).

    Retries are the client's: none by default (`max_retries=0`, so each step answers one
    call); with `max_retries=n` what `VoxtralClient` retries is tried again, `retry_backoff`
    seconds apart (doubled each time, or what `Retry-After` asks). Requests are recorded as
    the server records them (`requests`, `probes`, `transcriptions`); `verify()` fails on
    unused steps and unexpected requests.

    Args:
        max_retries: retries after the first attempt (0 to 4).
        retry_backoff: seconds before the first retry.
        timeout: seconds one attempt may take, all of its body included (a `hang` or an
            endless `trickle` ends there).
        base_url: the API root errors and `ServerInfo` name (nothing is connected to).
        **options: what it serves (`ScriptOptions`, as `ScriptedServer` takes them):
            `model`, `max_model_len`, `max_audio_items`, `tool_calling`, `transcript`,
            `responder`, `transcriber`.
    """

    def __init__(
        self,
        *,
        max_retries: int = 0,
        retry_backoff: float = 0.0,
        timeout: float = 120.0,
        base_url: str = "http://scripted.invalid/v1",
        **options: Unpack[ScriptOptions],
    ) -> None:
        super().__init__(**options)
        http = httpx2.AsyncClient(transport=ScriptTransport(self._script))
        self._client = VoxtralClient(
            base_url,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            timeout=timeout,
            http_client=http,
        )

    @property
    def base_url(self) -> str:
        """The API root this backend goes by."""
        return self._client.base_url

    async def server_info(self, model: str | None = None) -> ServerInfo:
        """The served model and its context length."""
        return await self._client.server_info(model)

    async def probe_tool_calling(self, model: str) -> tuple[bool, str | None]:
        """Whether `tool_choice="auto"` works (False, with vLLM's message, when it is off)."""
        return await self._client.probe_tool_calling(model)

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
        """One chat completion from the next step; `on_text` gets streamed text deltas."""
        return await self._client.chat(
            model=model,
            messages=messages,
            tools=tools,
            tool_choice=tool_choice,
            stream=stream,
            on_text=on_text,
            **sampling,
        )

    async def transcribe(
        self, wav: bytes, *, model: str, language: str | None = None, temperature: float = 0.0
    ) -> str:
        """The next transcription step's text for one WAV clip."""
        return await self._client.transcribe(
            wav, model=model, language=language, temperature=temperature
        )

    async def aclose(self) -> None:
        """Nothing to release (no connections); the backend stays usable."""
