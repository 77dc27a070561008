"""`ScriptedServer`: a real HTTP server on loopback that answers like vLLM serving Voxtral."""

from __future__ import annotations

import contextlib
import io
import json
import math
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import soundfile as sf

from agent._probe import is_tool_calling_probe
from agent._rules import RuleViolation, check_chat_request
from agent._tool_calls import new_call_id
from agent.clips import audio_tokens
from agent.testing._steps import Expectation, RecordedRequest, ScriptedCall, Step

__all__ = ["ScriptedServer"]

_FINGERPRINT = "vllm-scripted"
_SCRIPT_ERROR = 400
"""The status of an answer to an unscripted request or a failed `expect`: a client does not
retry it, so the test fails at once with the script's message."""
_LANGUAGES = ("ar", "nl", "en", "fr", "de", "hi", "it", "pt", "es")
"""The languages vLLM's Voxtral transcription accepts."""


class ScriptedServer:
    """A loopback HTTP server speaking vLLM's OpenAI API, with scripted model replies.

    Each `/v1/chat/completions` request takes the next scripted step (`reply`,
    `reply_tool_call`, `fail`, ...) and is answered exactly as vLLM would (streamed or not).
    Every chat request is first checked with the same mistral-common calls a real server
    makes; a request Voxtral would refuse gets vLLM's 400 body. `/health`, `/v1/models` and
    `/v1/audio/transcriptions` answer too. Requests are recorded (`requests`), and `verify()`
    fails on unexpected requests and unused steps.

    The tool-calling probe of `Agent.check_server` (and of every `voxagent` command) is
    answered by the server itself, as vLLM does, without taking a step: an empty reply, or,
    with `tool_calling=False`, vLLM's 400. It is recorded in `probes`, not in `requests`.

    Use it as a context manager (`with ScriptedServer() as server:`), or through the
    `scripted_server` pytest fixture; it runs in a thread, so sync code and subprocesses can
    use `server.base_url` too.

    Args:
        model: the served model name.
        max_model_len: the context length `/v1/models` reports.
        max_audio_items: vLLM's `--limit-mm-per-prompt` audio limit.
        tool_calling: False answers `tool_choice="auto"` with the 400 vLLM gives without
            `--enable-auto-tool-choice`.
        transcript: what `/v1/audio/transcriptions` answers when no `transcribe_as` is queued.
        responder: answers the chat requests the queued steps do not cover (a function of the
            request returning a `Step`), for tests and benchmarks where many agents share one
            server; without it such a request gets a 400 (not retried) and `verify()` reports it.
    """

    def __init__(
        self,
        *,
        model: str = "voxtral-scripted",
        max_model_len: int = 32768,
        max_audio_items: int = 5,
        tool_calling: bool = True,
        transcript: str = "",
        responder: Callable[[RecordedRequest], Step] | None = None,
    ) -> None:
        self.model = model
        self.max_model_len = max_model_len
        self.max_audio_items = max_audio_items
        self.tool_calling = tool_calling
        self.transcript = transcript
        self.responder = responder
        self._steps: deque[Step] = deque()
        self._transcripts: deque[str] = deque()
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []
        self._problems: list[str] = []
        self._httpd: _LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        """Listen on a free port of 127.0.0.1 (in a background thread)."""
        if self._httpd is not None:
            return self
        handler = type("_BoundHandler", (_Handler,), {"server_ref": self})
        self._httpd = _LoopbackServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # stop() waits up to one poll interval
            name="ScriptedServer",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and end every open connection and its thread (idempotent).

        A step still waiting out its `delay` is not answered.
        """
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        if exc_type is None:
            self.verify()

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._httpd is None:
            raise RuntimeError("the ScriptedServer is not started; use `with` or start()")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The API root to give an agent: `http://127.0.0.1:<port>/v1`."""
        return f"http://127.0.0.1:{self.port}/v1"

    # --- scripting ----------------------------------------------------------------------

    def add(self, step: Step) -> ScriptedServer:
        """Queue one step (answers the next unanswered chat request)."""
        with self._lock:
            self._steps.append(step)
        return self

    def reply(
        self,
        text: str = "",
        *,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        finish_reason: str | None = None,
        expect: Expectation | None = None,
    ) -> ScriptedServer:
        """The model answers with `text` ("" is an empty reply, as the tiny model gives)."""
        return self.add(
            Step(
                content=text,
                delay=delay,
                chunk_delay=chunk_delay,
                finish_reason=finish_reason,
                expect=expect,
            )
        )

    def reply_tool_call(
        self,
        name: str,
        arguments: dict[str, Any] | str | None = None,
        *,
        text: str = "",
        delay: float = 0.0,
        expect: Expectation | None = None,
    ) -> ScriptedServer:
        """The model calls one tool (a fresh 9-character id is generated)."""
        call = ScriptedCall(name, {} if arguments is None else arguments)
        return self.add(Step(content=text, tool_calls=(call,), delay=delay, expect=expect))

    def reply_tool_calls(
        self,
        *calls: ScriptedCall | tuple[str, dict[str, Any] | str],
        text: str = "",
        delay: float = 0.0,
        expect: Expectation | None = None,
    ) -> ScriptedServer:
        """The model calls several tools in one reply."""
        scripted = tuple(
            call if isinstance(call, ScriptedCall) else ScriptedCall(call[0], call[1])
            for call in calls
        )
        return self.add(Step(content=text, tool_calls=scripted, delay=delay, expect=expect))

    def fail(
        self, status: int = 500, message: str = "Internal Server Error", *, times: int = 1
    ) -> ScriptedServer:
        """Answer the next `times` chat requests with an HTTP error in vLLM's body shape."""
        for _ in range(times):
            self.add(Step(kind="http_error", status=status, message=message))
        return self

    def fail_mid_stream(self, message: str = "engine died", *, partial: str = "") -> ScriptedServer:
        """A streamed 200 that sends `partial` text, then an error line (vLLM's shape)."""
        return self.add(Step(kind="stream_error", content=partial, message=message))

    def cut_stream(self, *, partial: str = "") -> ScriptedServer:
        """A streamed 200 that sends `partial` text and ends with no finish chunk or `[DONE]`."""
        return self.add(Step(kind="cut_stream", content=partial))

    def disconnect(self, *, times: int = 1) -> ScriptedServer:
        """Close the connection without answering the next `times` chat requests."""
        for _ in range(times):
            self.add(Step(kind="disconnect"))
        return self

    def transcribe_as(self, *texts: str) -> ScriptedServer:
        """Queue what the next transcription requests answer."""
        with self._lock:
            self._transcripts.extend(texts)
        return self

    # --- inspection ---------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """The chat requests received, in order (rejected ones included; probes left out)."""
        with self._lock:
            return [
                r for r in self._records if r.path.endswith("/chat/completions") and not r.is_probe
            ]

    @property
    def probes(self) -> list[RecordedRequest]:
        """The tool-calling probes received (`Agent.check_server`), answered without a step."""
        with self._lock:
            return [r for r in self._records if r.is_probe]

    @property
    def transcriptions(self) -> list[RecordedRequest]:
        """The transcription requests received."""
        with self._lock:
            return [r for r in self._records if r.path.endswith("/audio/transcriptions")]

    @property
    def all_requests(self) -> list[RecordedRequest]:
        """Every request received, in order."""
        with self._lock:
            return list(self._records)

    @property
    def rejected(self) -> list[RecordedRequest]:
        """The requests answered with a 4xx: a broken rule, or no scripted step for them."""
        with self._lock:
            return [r for r in self._records if 400 <= r.status < 500]

    @property
    def pending(self) -> int:
        """Scripted steps not used yet."""
        with self._lock:
            return len(self._steps)

    def verify(self) -> None:
        """Raise `AssertionError` on unexpected requests, failed expectations, or scripted steps
        and queued transcripts that were never used."""
        with self._lock:
            problems = list(self._problems)
            if self._steps:
                unused = ", ".join(_describe_step(step) for step in self._steps)
                problems.append(f"{len(self._steps)} scripted step(s) never used: {unused}")
            if self._transcripts:
                problems.append(
                    f"{len(self._transcripts)} queued transcript(s) never used: "
                    f"{list(self._transcripts)}"
                )
        if problems:
            raise AssertionError("ScriptedServer: " + "; ".join(problems))

    # --- request handling (called from the handler threads) -----------------------------

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self._records.append(record)

    def _problem(self, text: str) -> None:
        with self._lock:
            self._problems.append(text)

    def _next_step(self) -> Step | None:
        with self._lock:
            return self._steps.popleft() if self._steps else None

    def _next_transcript(self) -> str:
        with self._lock:
            return self._transcripts.popleft() if self._transcripts else self.transcript

    def _check_chat(self, body: dict[str, Any]) -> tuple[int, str, str | None] | None:
        """None if vLLM would accept the request, else (status, message, param)."""
        if body.get("model") != self.model:
            return (
                404,
                (f"The model `{body.get('model')}` does not exist. Valid aliases: {self.model}."),
                "model",
            )
        for key in ("chat_template", "chat_template_kwargs"):
            if key in body:
                return 400, f"{key} is not supported for Mistral tokenizers. (parameter={key})", key
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and max_tokens > self.max_model_len:
            return (
                400,
                (
                    f"max_tokens={max_tokens} cannot be greater than max_model_len="
                    f"{self.max_model_len}. Please request fewer output tokens. "
                    f"(parameter=max_tokens, value={max_tokens})"
                ),
                "max_tokens",
            )
        choice = body.get("tool_choice")
        if choice is not None and choice != "none" and not body.get("tools"):
            message = "When using `tool_choice`, `tools` must be set. (parameter=tool_choice)"
            return 400, message, "tool_choice"
        if choice == "auto" and not self.tool_calling:
            return (
                400,
                (
                    '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser '
                    "to be set"
                ),
                None,
            )
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return 400, "messages: a non-empty list is required", "messages"
        last = messages[-1]
        if (
            isinstance(last, dict)
            and last.get("role") == "assistant"
            and not body.get("continue_final_message")
        ):
            return (
                400,
                (
                    "Cannot set `add_generation_prompt` to True when the last message is from "
                    "the assistant. Consider using `continue_final_message` instead."
                ),
                None,
            )
        try:
            check_chat_request(
                messages,
                body.get("tools"),
                max_audio_items=self.max_audio_items,
                check_audio_data=True,
            )
        except RuleViolation as violation:
            return 400, str(violation), violation.param
        # vLLM refuses a prompt that alone fills the context; it shortens `max_tokens` itself.
        prompt = _estimate_prompt_tokens(body)
        if prompt >= self.max_model_len:
            return (
                400,
                (
                    f"This model's maximum context length is {self.max_model_len} tokens. However, "
                    f"your prompt contains {prompt} input tokens, which exceeds this limit even "
                    "without any output tokens. Please reduce the length of the input prompt. "
                    f"(parameter=input_tokens, value={prompt})"
                ),
                "input_tokens",
            )
        return None


_ERROR_TYPES = {400: "BadRequestError", 404: "NotFoundError", 429: "RateLimitError"}
"""The `type` of vLLM's error body by status (others: `InternalServerError`)."""

_PERMISSION = {
    "id": "modelperm-scripted",
    "object": "model_permission",
    "created": 0,
    "allow_create_engine": False,
    "allow_sampling": True,
    "allow_logprobs": True,
    "allow_search_indices": False,
    "allow_view": True,
    "allow_fine_tuning": False,
    "organization": "*",
    "group": None,
    "is_blocking": False,
}


class _LoopbackServer(ThreadingHTTPServer):
    """Knows its open connections, so `close_connections` can end them and their threads
    (keep-alive connections and delayed steps would otherwise outlive `ScriptedServer.stop`)."""

    request_queue_size = 256  # many agents connecting at once must not be refused
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.stopping = threading.Event()
        self._open: dict[threading.Thread, socket.socket] = {}
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="ScriptedServer-connection",
            daemon=True,
        )
        with self._open_lock:
            self._open[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(threading.current_thread(), None)

    def close_connections(self, timeout: float) -> None:
        """Wake delayed steps, shut every open connection, and wait for their threads."""
        self.stopping.set()
        with self._open_lock:
            open_now = list(self._open.items())
        for _, connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread, _ in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else delayed ACKs add 40 ms to every answer
    server_ref: ScriptedServer
    server: _LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `ScriptedServer.requests` instead."""

    # --- routing ------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._send(200, b"", content_type=None)
        elif path in ("/v1/models", "/models"):
            owner = self.server_ref
            created = int(time.time())
            self._json(
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": owner.model,
                            "object": "model",
                            "created": created,
                            "owned_by": "vllm",
                            "root": owner.model,
                            "parent": None,
                            "max_model_len": owner.max_model_len,
                            "permission": [_PERMISSION],
                        }
                    ],
                },
            )
        else:
            self._json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path == "/v1/chat/completions":
            self._chat(path, raw)
        elif path == "/v1/audio/transcriptions":
            self._transcription(path, raw)
        else:
            self._json(404, {"detail": "Not Found"})

    # --- chat ---------------------------------------------------------------------------

    def _chat(self, path: str, raw: bytes) -> None:
        owner = self.server_ref
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body is not a JSON object")
        except ValueError as error:
            owner._record(RecordedRequest(path, {}, 400, str(error)))
            self._error(400, f"Invalid JSON body: {error}")
            return
        rejection = owner._check_chat(body)
        if rejection is not None:
            status, message, param = rejection
            owner._record(RecordedRequest(path, body, status, message))
            self._error(status, message, param=param)
            return
        if is_tool_calling_probe(body):
            owner._record(RecordedRequest(path, body))
            usage = _usage(body, completion_tokens=1)
            self._json(200, _completion(owner.model, body, Step(), [], "stop", usage))
            return
        step = owner._next_step()
        if step is None and owner.responder is not None:
            step = owner.responder(RecordedRequest(path, body))
        if step is None:
            message = (
                "ScriptedServer: no scripted reply left for chat request "
                f"#{len(owner.requests) + 1} (script more steps)"
            )
            owner._problem(message)
            owner._record(RecordedRequest(path, body, _SCRIPT_ERROR, message))
            self._error(_SCRIPT_ERROR, message)
            return
        record = RecordedRequest(path, body)
        if step.expect is not None:
            try:
                step.expect(record)
            except AssertionError as error:
                message = f"ScriptedServer: expectation failed on chat request: {error}"
                owner._problem(message)
                owner._record(RecordedRequest(path, body, _SCRIPT_ERROR, message))
                self._error(_SCRIPT_ERROR, message)
                return
        # Recorded on arrival (with the outcome the step decides), so a test can see a request
        # whose answer is still delayed.
        as_error = step.kind == "http_error" or (
            step.kind in ("stream_error", "cut_stream") and not body.get("stream")
        )
        if step.kind == "disconnect":
            owner._record(RecordedRequest(path, body, 0, "disconnected"))
        elif as_error:
            owner._record(RecordedRequest(path, body, step.status, step.message))
        else:
            owner._record(record)
        if step.delay and self.server.stopping.wait(step.delay):  # stopped meanwhile
            self.close_connection = True
            return
        if step.kind == "disconnect":
            self.close_connection = True
            self.connection.close()
            return
        if as_error:
            self._error(step.status, step.message)
            return
        calls = [(call, call.id or new_call_id()) for call in step.tool_calls]
        named = isinstance(body.get("tool_choice"), dict)
        finish = step.finish_reason or ("tool_calls" if calls and not named else "stop")
        usage = _usage(body, completion_tokens=max(1, len(step.content) // 4 + 20 * len(calls)))
        if body.get("stream"):
            self._stream(body, step, calls, finish, usage)
        else:
            self._json(200, _completion(owner.model, body, step, calls, finish, usage))

    def _stream(
        self,
        body: dict[str, Any],
        step: Step,
        calls: list[tuple[ScriptedCall, str]],
        finish: str,
        usage: dict[str, int],
    ) -> None:
        owner = self.server_ref
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:16]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            choice: dict[str, Any] = {
                "index": 0,
                "delta": delta,
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            if finish_reason is not None:
                choice["stop_reason"] = None
            return {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": owner.model,
                "choices": [choice],
            }

        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        events: list[dict[str, Any]] = [chunk({"role": "assistant", "content": ""})]
        for piece in _pieces(step.content, 8):
            events.append(chunk({"content": piece}))
        if step.kind == "stream_error":
            events.append(
                {
                    "error": {
                        "message": step.message,
                        "type": "InternalServerError",
                        "param": None,
                        "code": 500,
                    }
                }
            )
        elif step.kind != "cut_stream":
            for index, (call, call_id) in enumerate(calls):
                events.append(
                    chunk(
                        {
                            "tool_calls": [
                                {
                                    "id": call_id,
                                    "type": "function",
                                    "index": index,
                                    "function": {"name": call.name},
                                }
                            ]
                        }
                    )
                )
                for piece in _pieces(call.arguments_json(), 4):
                    events.append(
                        chunk(
                            {
                                "tool_calls": [
                                    {
                                        "type": "function",
                                        "index": index,
                                        "function": {"arguments": piece},
                                    }
                                ]
                            }
                        )
                    )
            if calls:
                events.append(chunk({}))
                events.append(chunk({}, finish))
            else:
                events.append(chunk({"content": ""}, finish))
            options = body.get("stream_options") or {}
            if options.get("include_usage"):
                events.append(
                    {
                        "id": chunk_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": owner.model,
                        "choices": [],
                        "usage": usage,
                        "system_fingerprint": _FINGERPRINT,
                    }
                )
        try:
            for event in events:
                self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())
                if step.chunk_delay and self.server.stopping.wait(step.chunk_delay):
                    self.close_connection = True
                    return
            if step.kind != "cut_stream":
                self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    # --- transcription ------------------------------------------------------------------

    def _transcription(self, path: str, raw: bytes) -> None:
        owner = self.server_ref
        fields, audio = _parse_multipart(self.headers.get("Content-Type", ""), raw)
        body: dict[str, Any] = {**fields, "file": audio}
        if fields.get("model") != owner.model:
            message = (
                f"The model `{fields.get('model')}` does not exist. Valid aliases: {owner.model}."
            )
            owner._record(RecordedRequest(path, body, 404, message))
            self._error(404, message, param="model")
            return
        language = fields.get("language")
        if language is not None and language not in _LANGUAGES:
            message = f"Unsupported language: {language!r}.  Must be one of {list(_LANGUAGES)}."
            owner._record(RecordedRequest(path, body, 400, message))
            self._error(400, message)
            return
        try:
            info = sf.info(io.BytesIO(audio or b""))
        except (sf.LibsndfileError, RuntimeError, TypeError):
            message = "Invalid or unsupported audio file."
            owner._record(RecordedRequest(path, body, 400, message))
            self._error(400, message)
            return
        owner._record(RecordedRequest(path, body))
        seconds = math.ceil(info.frames / info.samplerate) if info.samplerate else 0
        text = owner._next_transcript()
        if fields.get("response_format") == "text":
            self._send(200, text.encode(), content_type="text/plain; charset=utf-8")
            return
        self._json(200, {"text": text, "usage": {"type": "duration", "seconds": seconds}})

    # --- responses ----------------------------------------------------------------------

    def _error(self, status: int, message: str, *, param: str | None = None) -> None:
        kind = _ERROR_TYPES.get(status, "InternalServerError")
        self._json(
            status, {"error": {"message": message, "type": kind, "param": param, "code": status}}
        )

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), content_type="application/json")

    def _send(self, status: int, data: bytes, *, content_type: str | None) -> None:
        try:
            self.send_response(status)
            if content_type is not None:
                self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _completion(
    model: str,
    body: dict[str, Any],
    step: Step,
    calls: list[tuple[ScriptedCall, str]],
    finish: str,
    usage: dict[str, int],
) -> dict[str, Any]:
    tool_calls = [
        {
            "id": call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_json()},
        }
        for call, call_id in calls
    ]
    # vLLM's mistral tool parser (tools with "auto") gives null for no text; other paths give "".
    parsed = bool(body.get("tools")) and body.get("tool_choice") in (None, "auto")
    message: dict[str, Any] = {
        "role": "assistant",
        "content": step.content or (None if parsed else ""),
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
        "reasoning": None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish,
                "stop_reason": None,
            }
        ],
        "service_tier": None,
        "system_fingerprint": _FINGERPRINT,
        "usage": {**usage, "prompt_tokens_details": None},
        "prompt_logprobs": None,
    }


def _pieces(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def _usage(body: dict[str, Any], *, completion_tokens: int) -> dict[str, int]:
    prompt_tokens = _estimate_prompt_tokens(body)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """Roughly what the tokenizer would count: text at ~4 chars a token, audio exactly."""
    chars = 0
    tokens = 0
    for message in body.get("messages") or []:
        content = message.get("content")
        tokens += 4
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text":
                    chars += len(str(part.get("text", "")))
                elif part.get("type") == "input_audio":
                    data = str(part.get("input_audio", {}).get("data", ""))
                    # 16 kHz PCM16 WAV: 32000 bytes a second, base64 is 4/3 of that.
                    tokens += audio_tokens(len(data) * 3 / 4 / 32000)
        if message.get("tool_calls"):
            chars += len(json.dumps(message["tool_calls"]))
    if body.get("tools"):
        chars += len(json.dumps(body["tools"]))
    return tokens + chars // 4


def _parse_multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], bytes | None]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields: dict[str, str] = {}
    audio: bytes | None = None
    if not message.is_multipart():
        return fields, audio
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        if name == "file":
            audio = payload
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return fields, audio


def _describe_step(step: Step) -> str:
    if step.kind != "reply":
        return f"{step.kind}({step.status if step.kind == 'http_error' else step.message!r})"
    if step.tool_calls:
        return "tool_calls(" + ", ".join(call.name for call in step.tool_calls) + ")"
    return f"reply({step.content!r})"
