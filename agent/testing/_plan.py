"""What goes on the wire for one request to the scripted vLLM, as a lazy list of actions.

`answer(script, method, path, content_type, raw)` routes the request (`/health`, `/v1/models`,
chat, transcription), asks the script (vLLM's rules, then the next step) and yields what to
do: wait, send the head, send a piece of body, end it, close or reset the connection. Two
executors carry the actions out: the socket handler of `ScriptedServer` and the in-process
transport of `ScriptedBackend`, so both put the same bytes, pauses and cuts on the wire.

The plan is a generator: a request counts as in flight until it is exhausted or closed, and a
trickle's clock runs while the executor waits out each `Pause`.
"""

from __future__ import annotations

import enum
import json
import math
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from agent.testing._script import CHAT_PATH, TRANSCRIPTION_PATH, Script
from agent.testing._steps import RecordedRequest, Step
from agent.testing._vllm import Rejection, audio_seconds, error_body, models_payload
from agent.testing._wire import ReplyBuilder, stream_error_event

__all__ = ["CLOSE", "END", "RESET", "Action", "Data", "Head", "Pause", "Signal", "answer"]


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait `seconds` (`math.inf`: until the client goes away or the server stops)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Head:
    """The status line and headers; `length` None means a chunked body."""

    status: int
    content_type: str | None
    headers: Mapping[str, str] = field(default_factory=dict)
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Data:
    """A piece of the body (one chunk of a chunked body)."""

    data: bytes


class Signal(enum.Enum):
    """How the answer ends: `END` (the body ends cleanly: the last chunk of a chunked body),
    `CLOSE` (the connection closes, FIN, with no more of the answer) or `RESET` (the
    connection is reset, TCP RST, now)."""

    END = "end"
    CLOSE = "close"
    RESET = "reset"


END, CLOSE, RESET = Signal.END, Signal.CLOSE, Signal.RESET

Action = Pause | Head | Data | Signal

_STREAMED_KINDS = ("reply", "stream_error", "cut_stream", "reset", "trickle")
"""The kinds a streamed request gets as an SSE stream (the others answer as a plain one)."""

_Payload = Callable[[tuple[str, ...]], tuple[bytes, str]]
"""The body of a plain answer (bytes, content type), given the text emitted (a trickle's)."""


def answer(
    script: Script, method: str, path: str, content_type: str, raw: bytes
) -> Generator[Action, None, None]:
    """The actions that answer one request."""
    if method == "GET" and path == "/health":
        yield from _body(200, b"", None)
    elif method == "GET" and path in ("/v1/models", "/models"):
        yield from _json(200, models_payload(script.rules))
    elif method == "POST" and path in (CHAT_PATH, TRANSCRIPTION_PATH):
        with script.in_flight(path):
            if path == CHAT_PATH:
                yield from _chat(script, path, raw)
            else:
                yield from _transcription(script, path, content_type, raw)
    else:
        yield from _json(404, {"detail": "Not Found"})


def _chat(script: Script, path: str, raw: bytes) -> Iterator[Action]:
    try:
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            raise ValueError("the body is not a JSON object")
    except ValueError as error:
        script.record(RecordedRequest(path, {}, 400, str(error)))
        yield from _error(Rejection(400, f"Invalid JSON body: {error}"))
        return
    step = script.take_chat(path, body)
    if isinstance(step, Rejection):
        yield from _error(step)
        return
    builder = ReplyBuilder(script.rules.model, body, step)
    kind = step.answered_as(bool(body.get("stream")))
    yield Pause(step.delay)
    if kind in _STREAMED_KINDS and body.get("stream"):
        yield from _stream(builder)
        return

    def payload(texts: tuple[str, ...]) -> tuple[bytes, str]:
        deltas = [builder.role_delta(), *builder.text_deltas(texts)]
        completion = builder.completion(deltas if step.kind == "trickle" else None)
        return json.dumps(completion).encode(), "application/json"

    yield from _plain(step, kind, payload)


def _transcription(script: Script, path: str, content_type: str, raw: bytes) -> Iterator[Action]:
    fields, audio = _parse_multipart(content_type, raw)
    step = script.take_transcription(path, fields, audio)
    if isinstance(step, Rejection):
        yield from _error(step)
        return
    seconds = audio_seconds(audio) or 0

    def payload(texts: tuple[str, ...]) -> tuple[bytes, str]:
        text = "".join(texts) if step.kind == "trickle" else step.content
        if fields.get("response_format") == "text":
            return text.encode(), "text/plain; charset=utf-8"
        data = {"text": text, "usage": {"type": "duration", "seconds": seconds}}
        return json.dumps(data).encode(), "application/json"

    yield Pause(step.delay)
    yield from _plain(step, step.answered_as(False), payload)


def _plain(step: Step, kind: str, payload: _Payload) -> Iterator[Action]:
    """A step's plain (not streamed) answer."""
    if kind == "disconnect":
        yield CLOSE
    elif kind == "hang":
        yield Pause(math.inf)
        yield CLOSE
    elif kind == "http_error" and step.body is None:
        yield from _error(Rejection(step.status, step.message), step.headers)
    elif kind in ("http_error", "bad_body"):
        status = step.status if kind == "http_error" else 200
        yield from _body(status, (step.body or "").encode(), step.content_type, step.headers)
    elif kind == "reset":
        data, content_type = payload(())
        yield Head(200, content_type, step.headers, len(data))
        yield Data(data[: len(data) // 2])
        yield RESET
    elif kind == "trickle":  # JSON whitespace meanwhile, then the body with all emitted
        yield Head(200, "application/json", step.headers)
        texts = yield from _ticks(step, lambda text: Data(b" "))
        yield Data(payload(texts)[0])
        yield END
    else:
        data, content_type = payload(())
        yield from _body(200, data, content_type, step.headers)


def _stream(builder: ReplyBuilder) -> Iterator[Action]:
    """A streamed 200 (chunked SSE) as the step's kind makes it."""
    step = builder.step
    yield Head(200, "text/event-stream; charset=utf-8", step.headers)
    if step.kind == "trickle":
        yield _event(builder.chunk(builder.role_delta()))
        texts = yield from _ticks(step, lambda text: _event(builder.chunk({"content": text})))
        for event in builder.closing_chunks("".join(texts)):
            yield _event(event)
        yield Data(b"data: [DONE]\n\n")
        yield END
        return
    if step.kind == "reply":
        events = builder.stream()
    else:  # the text, then the fault
        events = [builder.chunk(delta) for delta in [builder.role_delta(), *builder.text_deltas()]]
    if step.kind == "stream_error":
        events.append(stream_error_event(step.message))
    for event in events:
        yield _event(event)
        if step.chunk_delay:
            yield Pause(step.chunk_delay)
    if step.kind == "reset":
        yield RESET
        return
    if step.kind != "cut_stream":
        yield Data(b"data: [DONE]\n\n")
    yield END


def _ticks(step: Step, tick: Callable[[str], Action]) -> Generator[Action, None, tuple[str, ...]]:
    """A trickle: `tick(content)` every `chunk_delay` for `duration` (None: endless); returns
    the texts emitted."""
    end = math.inf if step.duration is None else time.monotonic() + step.duration
    emitted: list[str] = []
    while time.monotonic() < end:
        text = step.content or "."
        yield tick(text)
        emitted.append(text)
        yield Pause(min(step.chunk_delay, max(0.0, end - time.monotonic())))
    return tuple(emitted)


def _event(event: dict[str, Any]) -> Data:
    return Data(f"data: {json.dumps(event)}\n\n".encode())


def _error(rejection: Rejection, headers: Mapping[str, str] | None = None) -> Iterator[Action]:
    body = error_body(rejection.status, rejection.message, rejection.param)
    yield from _body(rejection.status, json.dumps(body).encode(), "application/json", headers)


def _json(status: int, payload: Any) -> Iterator[Action]:
    yield from _body(status, json.dumps(payload).encode(), "application/json")


def _body(
    status: int, data: bytes, content_type: str | None, headers: Mapping[str, str] | None = None
) -> Iterator[Action]:
    yield Head(status, content_type, headers or {}, len(data))
    yield Data(data)
    yield END


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
