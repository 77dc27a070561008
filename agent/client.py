"""The HTTP side: vLLM's OpenAI-compatible API through `openai.AsyncOpenAI`.

`VoxtralClient` sends chat and transcription requests, assembles streamed deltas, retries what
can be retried (connection refused, timeouts, 429, 5xx, a stream cut off before any text reached
the caller: at most 5 attempts in all, the openai client's own retries switched off; an error
line inside a stream is raised at once) and turns every failure into an `agent.errors`
exception whose message names the server and what to do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx2
import openai
from mistral_common.protocol.transcription.request import TranscriptionRequest
from pydantic import ValidationError

from agent._http_errors import (
    WIRE_ERRORS,
    AttemptTimedOut,
    IncompleteStream,
    describe,
    is_retryable,
    retry_after,
    waits_too_long,
)
from agent._probe import tool_calling_probe
from agent._replies import UnusableBody, read_completion, read_stream
from agent.backend import (
    DEFAULT_BASE_URL,
    ModelReply,
    ServerInfo,
    TextCallback,
    ToolCall,
    resolve_base_url,
)
from agent.errors import (
    BadAudioError,
    InvalidRequestError,
    RequestRejectedError,
    ServerError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_ATTEMPTS",
    "ModelReply",
    "ServerInfo",
    "ToolCall",
    "VoxtralClient",
    "resolve_base_url",
]

MAX_ATTEMPTS = 5
"""The most attempts one request gets, retries included."""

_log = logging.getLogger("agent.client")
_T = TypeVar("_T")


class VoxtralClient:
    """Talks to one vLLM server (a `Backend`); safe to share between agents and tasks.

    Args:
        base_url: the API root, e.g. `http://127.0.0.1:8000/v1` (default: `$VOXAGENT_BASE_URL`
            or that).
        api_key: sent as a bearer token (vLLM ignores it unless started with `--api-key`).
        timeout: seconds for one attempt of one request.
        max_retries: retries after the first attempt (0 to 4: at most 5 attempts in all).
        retry_backoff: seconds before the first retry, doubled each time (with jitter).
        http_client: an `openai.AsyncOpenAI` or `httpx2.AsyncClient` to share connections.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str = "EMPTY",
        timeout: float = 120.0,
        max_retries: int = MAX_ATTEMPTS - 1,
        retry_backoff: float = 0.5,
        http_client: openai.AsyncOpenAI | httpx2.AsyncClient | None = None,
    ) -> None:
        if not 0 <= max_retries <= MAX_ATTEMPTS - 1:
            raise ValueError(f"max_retries must be between 0 and {MAX_ATTEMPTS - 1}")
        self.base_url = resolve_base_url(base_url)
        self.max_retries = max_retries
        self.timeout = timeout
        self.retry_backoff = retry_backoff
        # Our own retries replace the openai client's, so the total stays at MAX_ATTEMPTS.
        if isinstance(http_client, openai.AsyncOpenAI):
            self._openai = http_client.with_options(max_retries=0, timeout=timeout)
            self.base_url = str(http_client.base_url).rstrip("/")
        else:
            self._openai = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=api_key,
                timeout=timeout,
                max_retries=0,
                http_client=http_client,
            )
        self._owns_client = http_client is None

    @property
    def openai(self) -> openai.AsyncOpenAI:
        """The underlying `AsyncOpenAI` client (its own retries are off)."""
        return self._openai

    async def aclose(self) -> None:
        """Close the connections, unless they belong to a shared client passed in."""
        if self._owns_client:
            await self._openai.close()

    # --- server facts -------------------------------------------------------------------

    async def list_models(self) -> list[dict[str, Any]]:
        """The models the server serves, as `/v1/models` gives them."""

        async def call() -> list[dict[str, Any]]:
            raw = await self._openai.models.with_raw_response.list()
            data = _json_object(raw.text, "a model list")
            models = data.get("data")
            if not isinstance(models, list) or not all(
                isinstance(entry, dict) and "id" in entry for entry in models
            ):
                raise UnusableBody("the body is not a model list", raw.text)
            return models

        return await self._retrying("GET /models", call)

    async def server_info(self, model: str | None = None) -> ServerInfo:
        """The served models and the context length of `model` (default: the first)."""
        models = await self.list_models()
        if not models:
            raise ServerError(f"the server at {self.base_url} serves no model")
        names = tuple(str(entry["id"]) for entry in models)
        chosen = model or names[0]
        entry = next((item for item in models if item["id"] == chosen), None)
        if entry is None:
            raise InvalidRequestError(
                f"model {chosen!r} is not served at {self.base_url}; it serves {list(names)}: "
                "pass one of those as model= (or model=None for the first)"
            )
        length = entry.get("max_model_len")
        return ServerInfo(
            base_url=self.base_url,
            model=chosen,
            models=names,
            max_model_len=int(length) if isinstance(length, int) else None,
        )

    async def probe_tool_calling(self, model: str) -> tuple[bool, str | None]:
        """Whether `tool_choice="auto"` works; vLLM answers 400 when it was not enabled."""
        body = tool_calling_probe(model)
        try:
            create: Any = self._openai.chat.completions.create
            await self._retrying(
                "POST /chat/completions (tool calling probe)", lambda: create(**body)
            )
        except RequestRejectedError as error:
            if "tool" in error.server_message.lower():
                return False, error.server_message
            raise
        return True, None

    # --- requests -----------------------------------------------------------------------

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
        """One chat completion, retried as needed; `on_text` gets streamed text deltas.

        An attempt that already handed text to `on_text` is never replayed: its failure is a
        `StreamError` carrying the text received (the user would hear it twice).
        """
        body: dict[str, Any] = {"model": model, "messages": messages, **sampling}
        if tools:
            body["tools"] = tools
            if tool_choice is not None:
                body["tool_choice"] = tool_choice
        delivered: list[str] = []
        completions = self._openai.chat.completions
        # The openai client's overloads are typed for OpenAI's models; vLLM takes the same body.
        create: Any = completions.create
        create_raw: Any = completions.with_raw_response.create

        async def attempt() -> ModelReply:
            started = time.perf_counter()
            if stream:
                chunks = await create(**body, stream=True, stream_options={"include_usage": True})
                async with chunks:  # releases the connection also when cancelled mid-stream
                    reply = await read_stream(chunks, started, on_text, delivered)
                if reply.finish_reason is None:
                    raise IncompleteStream(reply)
            else:
                raw = await create_raw(**body)
                reply = read_completion(raw.text)
                reply.time_to_first_token = time.perf_counter() - started
                if on_text is not None and reply.content:
                    delivered.append(reply.content)
                    await _maybe_await(on_text(reply.content))
            reply.duration = time.perf_counter() - started
            return reply

        return await self._retrying("POST /chat/completions", attempt, delivered)

    async def transcribe(
        self, wav: bytes, *, model: str, language: str | None = None, temperature: float = 0.0
    ) -> str:
        """Voxtral's transcription mode (`/v1/audio/transcriptions`) on WAV bytes."""
        fields: dict[str, Any] = {"model": model, "audio": wav, "language": language}
        try:
            request = TranscriptionRequest(temperature=temperature, **fields)
            params: dict[str, Any] = dict(
                request.to_openai(exclude=("top_p", "seed", "target_streaming_delay_ms"))
            )
        except ValidationError as error:
            raise InvalidRequestError(
                f"transcription: {error.errors()[0]['msg']} (language={language!r}); use a "
                "two-letter code such as 'en', 'fr', 'de', or None to let the model detect it"
            ) from error
        except ValueError as error:  # mistral-common could not read the audio
            raise BadAudioError(
                f"transcription: the audio cannot be read ({error}); pass the bytes of a WAV "
                "file (agent.audio.encode_wav makes one from samples)"
            ) from error
        if params.get("language") is None:
            params.pop("language", None)

        async def call() -> str:
            params["file"].seek(0)
            create: Any = self._openai.audio.transcriptions.with_raw_response.create
            raw = await create(**params, response_format="json")
            text = _json_object(raw.text, "a transcription").get("text")
            if not isinstance(text, str):
                raise UnusableBody("the transcription has no text", raw.text)
            return text

        return await self._retrying("POST /audio/transcriptions", call)

    # --- retries and errors -------------------------------------------------------------

    async def _retrying(
        self, what: str, call: Callable[[], Awaitable[_T]], delivered: list[str] | None = None
    ) -> _T:
        """`call()` with a deadline per attempt, retried with backoff (or `Retry-After`)."""
        delivered = delivered if delivered is not None else []
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return await self._within_deadline(call)
            except WIRE_ERRORS as exc:
                error = describe(
                    exc, what=what, base_url=self.base_url, attempts=attempt,
                    received="".join(delivered),
                )  # fmt: skip
                final = attempt == attempts or bool(delivered) or waits_too_long(exc)
                if final or not is_retryable(exc):
                    raise error from exc
                backoff = self.retry_backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
                delay = max(backoff, retry_after(exc) or 0.0)
                retry = f"retry {attempt}/{attempts - 1}"
                _log.warning("%s failed (%s); %s in %.2fs", what, error, retry, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _within_deadline(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """One attempt, connect and the whole body, bounded by `timeout` seconds."""
        try:
            async with asyncio.timeout(self.timeout):
                return await call()
        except TimeoutError as exc:
            raise AttemptTimedOut(self.timeout) from exc


def _json_object(body: str, what: str) -> dict[str, Any]:
    """A 200's body as a JSON object, else `UnusableBody`."""
    try:
        data = json.loads(body)
    except ValueError:
        raise UnusableBody("the body is not JSON", body) from None
    if not isinstance(data, dict):
        raise UnusableBody(f"the body is not {what}", body)
    return data


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if result is not None:
        await result
