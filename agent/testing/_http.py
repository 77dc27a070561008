"""The HTTP side of `ScriptedServer`: a threading loopback server and the handler that puts a
script's answers on the wire (vLLM's routes, chunked SSE streams, and the faults of a step:
errors with headers, unusable bodies, cuts, resets, trickles, hangs)."""

from __future__ import annotations

import contextlib
import json
import math
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.testing._script import CHAT_PATH, TRANSCRIPTION_PATH, Script
from agent.testing._steps import RecordedRequest, Step
from agent.testing._vllm import Rejection, audio_seconds, error_body
from agent.testing._wire import ReplyBuilder, stream_error_event

__all__ = ["LoopbackServer", "make_handler"]

_POLL = 0.05
"""Seconds between looks at the stop flag and the client while a step waits."""

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

_STREAMED_KINDS = ("reply", "stream_error", "cut_stream", "reset", "trickle")
"""The kinds a streamed request gets as an SSE stream (the others answer as a plain one)."""

Payload = Callable[[tuple[str, ...]], tuple[bytes, str]]
"""The body of a plain answer (bytes, content type), given the text emitted (a trickle's)."""


class LoopbackServer(ThreadingHTTPServer):
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
        """Wake waiting steps, shut every open connection, and wait for their threads."""
        self.stopping.set()
        with self._open_lock:
            open_now = list(self._open.items())
        for _, connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread, _ in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))


def make_handler(script: Script) -> type[BaseHTTPRequestHandler]:
    """A handler class answering from `script`."""
    return type("_BoundHandler", (_Handler,), {"script": script})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else delayed ACKs add 40 ms to every answer
    script: Script
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `ScriptedServer.requests` instead."""

    # --- routing ------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._send(200, b"", content_type=None)
        elif path in ("/v1/models", "/models"):
            self._json(200, self._models())
        else:
            self._json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path not in (CHAT_PATH, TRANSCRIPTION_PATH):
            self._json(404, {"detail": "Not Found"})
            return
        with self.script.in_flight(path):
            if path == CHAT_PATH:
                self._chat(path, raw)
            else:
                self._transcription(path, raw)

    def _models(self) -> dict[str, Any]:
        rules = self.script.rules
        entry = {
            "id": rules.model,
            "object": "model",
            "created": int(time.time()),
            "owned_by": "vllm",
            "root": rules.model,
            "parent": None,
            "max_model_len": rules.max_model_len,
            "permission": [_PERMISSION],
        }
        return {"object": "list", "data": [entry]}

    # --- chat and transcription ---------------------------------------------------------

    def _chat(self, path: str, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body is not a JSON object")
        except ValueError as error:
            self.script.record(RecordedRequest(path, {}, 400, str(error)))
            self._error(Rejection(400, f"Invalid JSON body: {error}"))
            return
        answer = self.script.take_chat(path, body)
        if isinstance(answer, Rejection):
            self._error(answer)
            return
        builder = ReplyBuilder(self.script.rules.model, body, answer)
        kind = answer.answered_as(bool(body.get("stream")))
        if kind in _STREAMED_KINDS and body.get("stream"):
            if self._pause(answer.delay):
                self._stream(builder)
            return

        def payload(texts: tuple[str, ...]) -> tuple[bytes, str]:
            deltas = [builder.role_delta(), *builder.text_deltas(texts)]
            completion = builder.completion(deltas if answer.kind == "trickle" else None)
            return json.dumps(completion).encode(), "application/json"

        self._answer(answer, kind, payload)

    def _transcription(self, path: str, raw: bytes) -> None:
        fields, audio = _parse_multipart(self.headers.get("Content-Type", ""), raw)
        answer = self.script.take_transcription(path, fields, audio)
        if isinstance(answer, Rejection):
            self._error(answer)
            return
        seconds = audio_seconds(audio) or 0

        def payload(texts: tuple[str, ...]) -> tuple[bytes, str]:
            text = "".join(texts) if answer.kind == "trickle" else answer.content
            if fields.get("response_format") == "text":
                return text.encode(), "text/plain; charset=utf-8"
            data = {"text": text, "usage": {"type": "duration", "seconds": seconds}}
            return json.dumps(data).encode(), "application/json"

        self._answer(answer, answer.answered_as(False), payload)

    # --- plain answers ------------------------------------------------------------------

    def _answer(self, step: Step, kind: str, payload: Payload) -> None:
        """A step's plain (not streamed) answer."""
        if not self._pause(step.delay):
            return
        if kind == "disconnect":
            self.close_connection = True
            self.connection.close()
        elif kind == "hang":
            self._pause(math.inf)
        elif kind == "http_error":
            if step.body is None:
                self._error(Rejection(step.status, step.message), headers=step.headers)
            else:
                self._send(step.status, step.body.encode(), step.content_type, step.headers)
        elif kind == "bad_body":
            self._send(200, (step.body or "").encode(), step.content_type, step.headers)
        elif kind == "reset":
            data, content_type = payload(())
            with contextlib.suppress(OSError):
                self._start(200, content_type, step.headers, length=len(data))
                self.wfile.write(data[: len(data) // 2])
            self._reset()
        elif kind == "trickle":
            self._trickle_plain(step, payload)
        else:
            data, content_type = payload(())
            self._send(200, data, content_type, step.headers)

    def _trickle_plain(self, step: Step, payload: Payload) -> None:
        """JSON whitespace every `chunk_delay` (chunked), then the body with all emitted."""
        try:
            self._start(200, "application/json", step.headers)
            texts = self._ticks(step, lambda: self._write_chunk(b" "))
            if texts is None:
                return
            self._write_chunk(payload(texts)[0])
            self._write_chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # --- streams ------------------------------------------------------------------------

    def _stream(self, builder: ReplyBuilder) -> None:
        """A streamed 200 (chunked SSE) as the step's kind makes it."""
        step = builder.step
        try:
            self._start(200, "text/event-stream; charset=utf-8", step.headers)
            if step.kind == "trickle":
                self._trickle_stream(builder)
                return
            if step.kind == "reply":
                events = builder.stream()
            else:  # the text, then the fault
                deltas = [builder.role_delta(), *builder.text_deltas()]
                events = [builder.chunk(delta) for delta in deltas]
            if step.kind == "stream_error":
                events.append(stream_error_event(step.message))
            if not self._events(events, step.chunk_delay):
                return
            if step.kind == "reset":
                self._reset()
                return
            if step.kind != "cut_stream":
                self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _trickle_stream(self, builder: ReplyBuilder) -> None:
        step = builder.step
        self._events([builder.chunk(builder.role_delta())], 0)
        delta = {"content": step.content or "."}
        texts = self._ticks(step, lambda: self._events([builder.chunk(delta)], 0))
        if texts is None:
            return
        self._events(builder.closing_chunks("".join(texts)), 0)
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _ticks(self, step: Step, tick: Callable[[], object]) -> tuple[str, ...] | None:
        """Call `tick` every `chunk_delay` for `duration`; the texts emitted, or None when the
        client went away or the server stopped meanwhile."""
        end = math.inf if step.duration is None else time.monotonic() + step.duration
        emitted: list[str] = []
        while time.monotonic() < end:
            tick()
            emitted.append(step.content or ".")
            if not self._pause(min(step.chunk_delay, max(0.0, end - time.monotonic()))):
                return None
        return tuple(emitted)

    def _events(self, events: list[dict[str, Any]], chunk_delay: float) -> bool:
        """Send SSE events, `chunk_delay` apart; False when stopped meanwhile."""
        for event in events:
            self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())
            if chunk_delay and not self._pause(chunk_delay):
                return False
        return True

    # --- the connection -----------------------------------------------------------------

    def _pause(self, seconds: float) -> bool:
        """Wait `seconds` (`math.inf`: until the client goes away); False when the server
        stops or the client leaves meanwhile (the connection is then closed)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.server.stopping.wait(min(left, _POLL)) or self._client_gone():
                self.close_connection = True
                return False
        return True

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _reset(self) -> None:
        """End the connection with a TCP RST (SO_LINGER 0), as a crashed proxy does."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    # --- responses ----------------------------------------------------------------------

    def _error(self, rejection: Rejection, *, headers: Mapping[str, str] | None = None) -> None:
        body = error_body(rejection.status, rejection.message, rejection.param)
        self._send(rejection.status, json.dumps(body).encode(), "application/json", headers)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), content_type="application/json")

    def _start(
        self,
        status: int,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
        *,
        length: int | None = None,
    ) -> None:
        """The status line and headers: with `length` a fixed body, else a chunked one."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("content-type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if length is None:
            self.send_header("transfer-encoding", "chunked")
        else:
            self.send_header("content-length", str(length))
        self.end_headers()

    def _send(
        self,
        status: int,
        data: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        try:
            self._start(status, content_type, headers, length=len(data))
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


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
