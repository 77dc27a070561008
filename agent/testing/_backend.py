"""`ScriptedBackend`: an in-process `agent.backend.Backend` that answers from a script.

It shares `ScriptedServer`'s script (`Script`), its steps, its vLLM rules (`VllmRules`) and its
reply builder (`ReplyBuilder`): a request goes through the same checks and takes the same step
as over HTTP, and each step ends as `VoxtralClient` ends it, with the same `agent.errors`
exception, without sockets or threads.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, Unpack

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
from agent.testing._script import CHAT_PATH, TRANSCRIPTION_PATH, ScriptOptions
from agent.testing._scripting import Scripting
from agent.testing._steps import Step
from agent.testing._vllm import Rejection
from agent.testing._wire import ReplyBuilder, fold

__all__ = ["ScriptedBackend"]

_T = TypeVar("_T")


@dataclass(slots=True)
class _Fault(Exception):
    """How one attempt ended badly, before it is worded as an `agent.errors` exception."""

    kind: str  # "status", "bad_body", "unavailable", "stream", "stream_line" (an error line)
    detail: str
    status: int | None = None
    retryable: bool = True


class ScriptedBackend(Scripting):
    """A `Backend` in process: the script of a `ScriptedServer` without the server.

    Script it with the same methods (`reply`, `reply_tool_call`, `fail`, `cut_stream`,
    `transcribe_as`, ...); give it to `Agent(client=...)`. Each request is checked with the
    same vLLM rules and takes the same step as with `ScriptedServer` + `VoxtralClient`, and
    ends the same way:

    - a reply: text deltas through `on_text` when streamed (the whole text once when not),
      tool calls with 9-character ids;
    - a 4xx (a broken rule, `fail(400)`, no step left): `RequestRejectedError` with vLLM's
      message; a 5xx, 408 or 429: `ServerError`; a `bad_body`: `ServerError`;
    - `disconnect`, `hang` past `timeout`, or a `reset`/`cut_stream` before any text reached
      `on_text`: `ServerUnavailableError` (`StreamError` for a cut stream);
    - `stream_error`, or a `reset`, `cut_stream` or timeout after text reached `on_text`:
      `StreamError` (never retried: the caller already has that text).

    Retries: like `VoxtralClient(max_retries=...)`, what is retryable (the `ServerError`s,
    `ServerUnavailableError`, a `StreamError` before any text) is tried again up to
    `max_retries` times, `retry_backoff` seconds apart (doubled each time); the default is
    no retry (`max_retries=0`), so each step answers one call. Requests are recorded as the
    server records them (`requests`, `probes`, `transcriptions`); `verify()` fails on unused
    steps and unexpected requests.

    Args:
        max_retries: retries after the first attempt (0 to 4).
        retry_backoff: seconds before the first retry (doubled each time).
        timeout: seconds one attempt may take (None: no bound; a `hang` then waits until
            cancelled).
        base_url: the name errors and `ServerInfo` give for this backend.
        **options: what it serves (`ScriptOptions`, as `ScriptedServer` takes them):
            `model`, `max_model_len`, `max_audio_items`, `tool_calling`, `transcript`,
            `responder`, `transcriber`.
    """

    def __init__(
        self,
        *,
        max_retries: int = 0,
        retry_backoff: float = 0.0,
        timeout: float | None = None,
        base_url: str = "scripted://voxtral",
        **options: Unpack[ScriptOptions],
    ) -> None:
        if not 0 <= max_retries <= 4:
            raise ValueError("max_retries must be between 0 and 4")
        super().__init__(**options)
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.timeout = timeout
        self._base_url = base_url

    @property
    def base_url(self) -> str:
        """The name this backend goes by in errors and `ServerInfo`."""
        return self._base_url

    async def aclose(self) -> None:
        """Nothing to release; the backend stays usable."""

    # --- server facts -------------------------------------------------------------------

    async def server_info(self, model: str | None = None) -> ServerInfo:
        """The served model and its context length."""
        served = self._script.rules.model
        if model is not None and model != served:
            raise InvalidRequestError(
                f"model {model!r} is not served at {self.base_url}; it serves {[served]}: "
                "pass one of those as model= (or model=None for the first)"
            )
        return ServerInfo(
            base_url=self.base_url,
            model=served,
            models=(served,),
            max_model_len=self._script.rules.max_model_len,
        )

    async def probe_tool_calling(self, model: str) -> tuple[bool, str | None]:
        """Whether `tool_choice="auto"` works (False, with vLLM's message, when it is off)."""
        what = "POST /chat/completions (tool calling probe)"
        answer = self._script.take_chat(CHAT_PATH, tool_calling_probe(model))
        if isinstance(answer, Rejection):
            if "tool" in answer.message.lower():
                return False, answer.message
            raise self._error(what, _rejected(answer), 1)
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
        """One chat completion from the next step; `on_text` gets streamed text deltas."""
        body: dict[str, Any] = {"model": model, "messages": messages, **sampling}
        if tools:
            body["tools"] = tools
            if tool_choice is not None:
                body["tool_choice"] = tool_choice
        if stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        body = json.loads(json.dumps(body))  # what the server would receive: a copy, as JSON
        emitted = [False]

        async def attempt() -> ModelReply:
            with self._script.in_flight(CHAT_PATH):
                answer = self._script.take_chat(CHAT_PATH, body)
                if isinstance(answer, Rejection):
                    raise _rejected(answer)
                reply = _Reply(ReplyBuilder(model, body, answer), on_text, emitted)
                return await self._bounded(reply.run(stream), emitted)

        return await self._retrying("POST /chat/completions", attempt, emitted)

    async def transcribe(
        self, wav: bytes, *, model: str, language: str | None = None, temperature: float = 0.0
    ) -> str:
        """The next transcription step's text for one WAV clip."""
        _check_transcription_language(wav, model, language, temperature)
        fields = {"model": model, "response_format": "json", "temperature": str(temperature)}
        if language is not None:
            fields["language"] = language

        async def attempt() -> str:
            with self._script.in_flight(TRANSCRIPTION_PATH):
                answer = self._script.take_transcription(TRANSCRIPTION_PATH, fields, wav)
                if isinstance(answer, Rejection):
                    raise _rejected(answer)
                return await self._bounded(_transcript(answer), [False])

        return await self._retrying("POST /audio/transcriptions", attempt, [False])

    # --- attempts, retries and errors ---------------------------------------------------

    async def _bounded(self, work: Awaitable[_T], emitted: list[bool]) -> _T:
        try:
            async with asyncio.timeout(self.timeout):
                return await work
        except TimeoutError:
            if emitted[0]:
                raise _Fault("stream", "timed out mid-stream", retryable=False) from None
            raise _Fault("unavailable", "timed out") from None

    async def _retrying(
        self, what: str, attempt: Callable[[], Awaitable[_T]], emitted: list[bool]
    ) -> _T:
        attempts = self.max_retries + 1
        for number in range(1, attempts + 1):
            try:
                return await attempt()
            except _Fault as fault:
                retryable = fault.retryable and not (fault.kind == "stream" and emitted[0])
                if not retryable or number == attempts:
                    raise self._error(what, fault, number) from None
                await asyncio.sleep(self.retry_backoff * 2 ** (number - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, what: str, fault: _Fault, attempt: int) -> VoxagentError:
        """The exception `VoxtralClient` raises for the same fault (the same wording)."""
        tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
        if fault.kind == "status" and not fault.retryable:
            return RequestRejectedError(
                f"{what} at {self.base_url} was rejected with HTTP {fault.status}: {fault.detail}",
                status_code=fault.status or 400,
                server_message=fault.detail,
            )
        if fault.kind == "bad_body":
            return ServerError(
                f"{what} at {self.base_url} answered HTTP 200 with an unusable body after "
                f"{tries}: {fault.detail}",
                status_code=200,
            )
        if fault.kind == "status":
            return ServerError(
                f"{what} at {self.base_url} failed with HTTP {fault.status} after {tries}: "
                f"{fault.detail}. Check the server's log (`voxagent serve` prints it)",
                status_code=fault.status,
            )
        if fault.kind == "unavailable":
            return ServerUnavailableError(
                f"{what}: cannot reach the vLLM server at {self.base_url} ({fault.detail} "
                f"after {tries})",
                base_url=self.base_url,
            )
        if fault.kind == "stream_line":
            return StreamError(
                f"{what} at {self.base_url} failed mid-stream: the server reported "
                f"{fault.detail!r}. Check the server's log (`voxagent serve` prints it)",
                status_code=None,
            )
        return StreamError(
            f"{what} at {self.base_url} broke off mid-response after {tries}: {fault.detail}",
            status_code=None,
        )


class _Reply:
    """One attempt at a chat reply by one step, streamed or not."""

    def __init__(
        self, builder: ReplyBuilder, on_text: TextCallback | None, emitted: list[bool]
    ) -> None:
        self.builder = builder
        self.step = builder.step
        self.on_text = on_text
        self.emitted = emitted
        self.started = time.perf_counter()
        self.first: float | None = None

    async def run(self, stream: bool) -> ModelReply:
        kind = await _start(self.step, stream)
        texts = await self._texts(kind, stream)
        if kind == "stream_error":
            raise _Fault("stream_line", self.step.message, retryable=False)
        if kind == "reset":
            raise _Fault("stream" if self.emitted[0] else "unavailable", _RESET)
        if kind == "cut_stream":
            raise _Fault("stream", _CUT)
        reply = self._reply(texts, stream)
        if not stream and reply.content and self.on_text is not None:
            await _call(self.on_text, reply.content)
        return reply

    async def _texts(self, kind: str, stream: bool) -> tuple[str, ...]:
        """The text deltas the step sends (a trickle's as it goes), through `on_text` when
        streamed."""
        if kind == "trickle":
            return await _ticks(self.step, self._delta if stream else None)
        if kind == "reset" and not stream:
            return ()
        if stream:
            for text in self.step.text_deltas:
                await self._delta(text)
                await _pause(self.step.chunk_delay)
        return self.step.text_deltas

    async def _delta(self, text: str) -> None:
        if self.first is None:
            self.first = time.perf_counter() - self.started
        if self.on_text is not None:
            self.emitted[0] = True
            await _call(self.on_text, text)

    def _reply(self, texts: tuple[str, ...], stream: bool) -> ModelReply:
        builder = self.builder
        deltas = [builder.role_delta(), *builder.text_deltas(texts), *builder.tool_call_deltas()]
        content, calls = fold(deltas)
        usage = builder.usage(content)
        now = time.perf_counter() - self.started
        return ModelReply(
            content=content,
            tool_calls=[
                ToolCall(call["id"], call["function"]["name"], call["function"]["arguments"])
                for call in calls
            ],
            finish_reason=builder.finish_reason,
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            time_to_first_token=self.first if stream and self.first is not None else now,
            duration=now,
        )


_RESET = "connection reset mid-body"
_CUT = "the stream ended before the reply finished (no finish_reason)"


async def _transcript(step: Step) -> str:
    """The text of one transcription step (or its fault)."""
    kind = await _start(step, False)
    if kind == "reset":
        raise _Fault("unavailable", _RESET)
    if kind == "trickle":
        return "".join(await _ticks(step, None))
    return step.content


async def _start(step: Step, stream: bool) -> str:
    """Wait out the step's delay, raise the faults that answer before any body (or hang),
    and give the kind that answers."""
    await _pause(step.delay)
    kind = step.answered_as(stream)
    if kind == "hang":
        await _pause(math.inf)
    if kind == "disconnect":
        raise _Fault("unavailable", "Server disconnected without sending a response.")
    if kind == "http_error":
        detail = step.message if step.body is None else f"Error code: {step.status} - {step.body}"
        raise _Fault("status", detail, step.status, retryable=_is_transient(step.status))
    if kind == "bad_body":
        raise _Fault("bad_body", f"unusable body ({step.content_type}): {step.body!r:.80}", 200)
    return kind


def _check_transcription_language(
    wav: bytes, model: str, language: str | None, temperature: float
) -> None:
    """What `VoxtralClient.transcribe` checks before sending (mistral-common's request)."""
    from mistral_common.protocol.transcription.request import TranscriptionRequest
    from pydantic import ValidationError

    fields: dict[str, Any] = {"model": model, "audio": wav, "language": language}
    try:
        TranscriptionRequest(temperature=temperature, **fields)
    except ValidationError as error:
        raise InvalidRequestError(
            f"transcription: {error.errors()[0]['msg']} (language={language!r}); use a "
            "two-letter code such as 'en', 'fr', 'de', or None to let the model detect it"
        ) from error


def _rejected(rejection: Rejection) -> _Fault:
    status = rejection.status
    return _Fault("status", rejection.message, status, retryable=_is_transient(status))


def _is_transient(status: int) -> bool:
    """A status worth retrying (as `VoxtralClient` has it): 408, 429, or a server error."""
    return status in (408, 429) or status >= 500


async def _ticks(step: Step, on_delta: Callable[[str], Awaitable[None]] | None) -> tuple[str, ...]:
    """A trickle: `content` every `chunk_delay` for `duration` (None: until cancelled)."""
    end = math.inf if step.duration is None else time.monotonic() + step.duration
    emitted: list[str] = []
    while time.monotonic() < end:
        text = step.content or "."
        if on_delta is not None:
            await on_delta(text)
        emitted.append(text)
        await _pause(min(step.chunk_delay, max(0.0, end - time.monotonic())))
    return tuple(emitted)


async def _pause(seconds: float) -> None:
    if math.isinf(seconds):
        await asyncio.Event().wait()  # until cancelled (a timeout, or the caller)
    elif seconds > 0:
        await asyncio.sleep(seconds)


async def _call(on_text: TextCallback, text: str) -> None:
    result = on_text(text)
    if result is not None:
        await result
