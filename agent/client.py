"""The HTTP side: vLLM's OpenAI-compatible API through `openai.AsyncOpenAI`.

`VoxtralClient` sends chat and transcription requests, assembles streamed deltas, retries what
can be retried (connection refused, timeouts, 429, 5xx, a stream cut off before any text reached
the caller: at most 5 attempts in all, the openai client's own retries switched off; an error
line inside a stream is raised at once) and turns every failure into an `agent.errors`
exception whose message names the server and what to do.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx2
import openai
from mistral_common.protocol.transcription.request import TranscriptionRequest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import ValidationError

from agent._probe import tool_calling_probe
from agent.backend import ModelReply, ServerInfo, TextCallback, ToolCall
from agent.errors import (
    InvalidRequestError,
    RequestRejectedError,
    ServerError,
    ServerUnavailableError,
    StreamError,
    VoxagentError,
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

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
"""Where `voxagent serve` puts the server; `VOXAGENT_BASE_URL` overrides it."""

MAX_ATTEMPTS = 5
"""The most attempts one request gets, retries included."""

_log = logging.getLogger("agent.client")
_T = TypeVar("_T")


def resolve_base_url(base_url: str | None) -> str:
    """`base_url`, else `$VOXAGENT_BASE_URL`, else the default; without a trailing slash."""
    url = base_url or os.environ.get("VOXAGENT_BASE_URL") or DEFAULT_BASE_URL
    return url.rstrip("/")


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
            page = await self._openai.models.list()
            return [model.model_dump() for model in page.data]

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
        """One chat completion, retried as needed; `on_text` gets streamed text deltas."""
        body: dict[str, Any] = {"model": model, "messages": messages, **sampling}
        if tools:
            body["tools"] = tools
            if tool_choice is not None:
                body["tool_choice"] = tool_choice
        emitted = [False]
        # The openai client's overloads are typed for OpenAI's models; vLLM takes the same body.
        create: Any = self._openai.chat.completions.create

        async def call() -> ModelReply:
            started = time.perf_counter()
            if not stream:
                completion = await create(**body)
                reply = _reply_from_completion(completion)
                reply.time_to_first_token = time.perf_counter() - started
                if on_text is not None and reply.content:
                    await _maybe_await(on_text(reply.content))
            else:
                chunks = await create(**body, stream=True, stream_options={"include_usage": True})
                async with chunks:  # releases the connection also when cancelled mid-stream
                    reply = await _assemble_stream(chunks, started, on_text, emitted)
                if reply.finish_reason is None:
                    raise StreamError(
                        "the stream ended before the reply finished (no finish_reason)",
                        status_code=None,
                    )
            reply.duration = time.perf_counter() - started
            return reply

        return await self._retrying(
            "POST /chat/completions", call, retry_stream_errors=lambda: not emitted[0]
        )

    async def transcribe(
        self, wav: bytes, *, model: str, language: str | None = None, temperature: float = 0.0
    ) -> str:
        """Voxtral's transcription mode (`/v1/audio/transcriptions`) on WAV bytes."""
        fields: dict[str, Any] = {"model": model, "audio": wav, "language": language}
        try:
            request = TranscriptionRequest(temperature=temperature, **fields)
        except ValidationError as error:
            raise InvalidRequestError(
                f"transcription: {error.errors()[0]['msg']} (language={language!r}); use a "
                "two-letter code such as 'en', 'fr', 'de', or None to let the model detect it"
            ) from error
        params: dict[str, Any] = dict(
            request.to_openai(exclude=("top_p", "seed", "target_streaming_delay_ms"))
        )
        if params.get("language") is None:
            params.pop("language", None)

        async def call() -> str:
            params["file"].seek(0)
            create: Any = self._openai.audio.transcriptions.create
            result = await create(**params, response_format="json")
            return str(getattr(result, "text", result))

        return await self._retrying("POST /audio/transcriptions", call)

    # --- retries and errors -------------------------------------------------------------

    async def _retrying(
        self,
        what: str,
        call: Callable[[], Awaitable[_T]],
        *,
        retry_stream_errors: Callable[[], bool] = lambda: True,
    ) -> _T:
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return await call()
            except (openai.APIError, httpx2.HTTPError, StreamError) as exc:
                error = self._map_error(what, exc, attempt)
                retryable = _is_retryable(exc) and (
                    not isinstance(error, StreamError) or retry_stream_errors()
                )
                if not retryable or attempt == attempts:
                    raise error from exc
                delay = self.retry_backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
                _log.warning(
                    "%s failed (%s); retry %d/%d in %.2fs",
                    what,
                    error,
                    attempt,
                    attempts - 1,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _map_error(self, what: str, exc: BaseException, attempt: int) -> VoxagentError:
        tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
        if isinstance(exc, openai.APIStatusError):
            message = _server_message(exc)
            status = exc.status_code
            if _is_transient_status(status):
                return ServerError(
                    f"{what} at {self.base_url} failed with HTTP {status} after {tries}: "
                    f"{message}. Check the server's log (`voxagent serve` prints it)",
                    status_code=status,
                )
            return RequestRejectedError(
                f"{what} at {self.base_url} was rejected with HTTP {status}: {message}",
                status_code=status,
                server_message=message,
            )
        if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
            kind = "timed out" if isinstance(exc, openai.APITimeoutError) else "failed"
            return ServerUnavailableError(
                f"{what}: cannot reach the vLLM server at {self.base_url} ({kind} after "
                f"{tries}: {exc}). Start it with `voxagent serve`, or point --base-url / "
                "VOXAGENT_BASE_URL at a running one",
                base_url=self.base_url,
            )
        if isinstance(exc, openai.APIError):  # an error line inside a 200 stream
            return StreamError(
                f"{what} at {self.base_url} failed mid-stream: the server reported "
                f"{exc.message!r}. Check the server's log (`voxagent serve` prints it)",
                status_code=None,
            )
        return StreamError(
            f"{what} at {self.base_url} broke off mid-response after {tries}: {exc}",
            status_code=None,
        )


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return _is_transient_status(exc.status_code)
    # Refused, timed out, or a stream cut off before its end are retried; an error line inside
    # a 200 stream (`data: {"error": ...}`) is the server giving up on the request: raised.
    return isinstance(exc, openai.APIConnectionError | httpx2.TransportError | StreamError)


def _is_transient_status(status: int) -> bool:
    """A status worth retrying: request timeout, too many requests, or a server error."""
    return status in (408, 429) or status >= 500


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
    return exc.message


def _reply_from_completion(completion: ChatCompletion) -> ModelReply:
    if not completion.choices:
        raise StreamError("the server answered with no choices", status_code=None)
    choice = completion.choices[0]
    message = choice.message
    calls = [
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "")
        for call in message.tool_calls or []
        if call.type == "function"
    ]
    usage = completion.usage
    return ModelReply(
        content=message.content or "",
        tool_calls=calls,
        finish_reason=choice.finish_reason,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
    )


async def _assemble_stream(
    chunks: AsyncIterator[ChatCompletionChunk],
    started: float,
    on_text: TextCallback | None,
    emitted: list[bool],
) -> ModelReply:
    """Concatenate text deltas and tool-call pieces per index, as vLLM streams them."""
    reply = ModelReply()
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    async for chunk in chunks:
        if chunk.usage is not None:
            reply.prompt_tokens = chunk.usage.prompt_tokens
            reply.completion_tokens = chunk.usage.completion_tokens
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                if reply.time_to_first_token is None:
                    reply.time_to_first_token = time.perf_counter() - started
                text.append(delta.content)
                if on_text is not None:
                    emitted[0] = True
                    await _maybe_await(on_text(delta.content))
            for piece in delta.tool_calls or []:
                if reply.time_to_first_token is None:
                    reply.time_to_first_token = time.perf_counter() - started
                slot = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": []})
                if piece.id:
                    slot["id"] = piece.id
                if piece.function is not None:
                    if piece.function.name:
                        slot["name"] += piece.function.name
                    if piece.function.arguments:
                        slot["arguments"].append(piece.function.arguments)
            if choice.finish_reason is not None:
                reply.finish_reason = choice.finish_reason
    if reply.time_to_first_token is None:
        reply.time_to_first_token = time.perf_counter() - started
    reply.content = "".join(text)
    reply.tool_calls = [
        ToolCall(id=slot["id"], name=slot["name"], arguments="".join(slot["arguments"]))
        for _, slot in sorted(calls.items())
    ]
    return reply


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if result is not None:
        await result
