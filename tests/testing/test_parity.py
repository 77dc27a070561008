"""The same script through `ScriptedServer` + `VoxtralClient` and through `ScriptedBackend`
gives the same replies, the same exceptions and the same records."""

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from agent.backend import Backend, ModelReply
from agent.client import VoxtralClient
from agent.clips import load_clip
from agent.errors import ServerUnavailableError, VoxagentError
from agent.testing import ScriptedBackend, ScriptedCall, ScriptedServer, Step, tone
from tests.testing.helpers import HI, MODEL, TOOLS

AUDIO = load_clip(tone(0.5), sample_rate=16000).base64()
WAV = load_clip(tone(0.5), sample_rate=16000).wav()
CALLS = (ScriptedCall("get_weather", {"city": "Paris"}, id="a1b2c3d4e"),)
NAMED = {"type": "function", "function": {"name": "get_weather"}}
WITH_AUDIO = [
    {"role": "system", "content": "be brief"},
    {
        "role": "user",
        "content": [{"type": "input_audio", "input_audio": {"data": AUDIO, "format": "wav"}}],
    },
]

Call = Callable[[Backend, list[str]], Awaitable[Any]]


def _chat(stream: bool, messages=HI, **options) -> Call:
    async def call(backend: Backend, seen: list[str]) -> ModelReply:
        return await backend.chat(
            model=MODEL, messages=messages, stream=stream, on_text=seen.append, **options
        )

    return call


def _transcribe(language: str | None = None) -> Call:
    async def call(backend: Backend, seen: list[str]) -> str:
        return await backend.transcribe(WAV, model=MODEL, language=language)

    return call


async def _probe(backend: Backend, seen: list[str]) -> object:
    return await backend.probe_tool_calling(MODEL)


CASES = {
    "text streamed": ([Step(content="Hello there, friend.")], _chat(True)),
    "text plain": ([Step(content="Hello there, friend.")], _chat(False)),
    "exact deltas": ([Step(deltas=("He", "llo"))], _chat(True)),
    "tool calls streamed": ([Step(tool_calls=CALLS)], _chat(True, tools=TOOLS)),
    "tool calls plain": ([Step(tool_calls=CALLS, content="ok")], _chat(False, tools=TOOLS)),
    "named tool choice": ([Step(tool_calls=CALLS)], _chat(False, tools=TOOLS, tool_choice=NAMED)),
    "finish length": ([Step(content="cut", finish_reason="length")], _chat(True, max_tokens=3)),
    "http 400": ([Step(kind="http_error", status=400, message="nope")], _chat(True)),
    "http 503": ([Step(kind="http_error", status=503, message="busy")], _chat(False)),
    "http 429 with Retry-After": (
        [Step(kind="http_error", status=429, message="slow", headers={"Retry-After": "2"})],
        _chat(True),
    ),
    "error line after text": (
        [Step(kind="stream_error", content="Hello wor", message="engine died")],
        _chat(True),
    ),
    "stream_error not streamed": ([Step(kind="stream_error", message="died")], _chat(False)),
    "cut before text": ([Step(kind="cut_stream")], _chat(True)),
    "cut after text": ([Step(kind="cut_stream", content="Hello wor")], _chat(True)),
    "disconnect": ([Step(kind="disconnect")], _chat(False)),
    "reset of a plain reply": ([Step(kind="reset", content="Hello")], _chat(False)),
    "system prompt next to audio": ([], _chat(False, messages=WITH_AUDIO)),
    "last message from the assistant": (
        [],
        _chat(False, messages=[*HI, {"role": "assistant", "content": "hm"}]),
    ),
    "max_tokens over the context": ([], _chat(False, max_tokens=10**6)),
    "unknown model": ([], lambda backend, seen: backend.chat(model="nope", messages=HI)),
    "no step left": ([], _chat(True)),
    "probe": ([], _probe),
    "transcription": ([], _transcribe("fr")),
    "transcription error": ([Step(kind="http_error", status=503, message="busy")], _transcribe()),
    "transcription language": ([], _transcribe("english")),
    "bad body": (
        [Step(kind="bad_body", body="<html>502</html>", content_type="text/html")],
        _chat(False),
    ),
    "bad body streamed": ([Step(kind="bad_body", body="[]")], _chat(True)),
    "reset after text": ([Step(kind="reset", deltas=("Hello ", "wor"))], _chat(True)),
    "reset before text": ([Step(kind="reset")], _chat(True)),
}
"""Case name: (chat or transcription steps, the call)."""

PAST_THE_DEADLINE = {
    "hang": ([Step(kind="hang")], _chat(True), 0.2),
    "hung transcription": ([Step(kind="hang")], _transcribe(), 0.2),
    "endless trickle": ([Step(kind="trickle", chunk_delay=0.05)], _chat(True), 2.0),
}
"""Case name: (steps, the call, the client's `timeout`)."""


async def _outcome(backend: Backend, steps: list[Step], call: Call, transcription: bool):
    script: Any = backend if isinstance(backend, ScriptedBackend) else None
    for step in steps:
        (script.add_transcription if transcription else script.add)(step)
    seen: list[str] = []
    try:
        result = await call(backend, seen)
    except VoxagentError as error:
        return _error(error, backend.base_url), seen
    if isinstance(result, ModelReply):
        calls = [(c.id, c.name, c.arguments) for c in result.tool_calls]
        return (result.content, calls, result.finish_reason, result.prompt_tokens), seen
    return result, seen


def _error(error: VoxagentError, base_url: str) -> tuple:
    status = getattr(error, "status_code", None)
    said = getattr(error, "server_message", None)
    if isinstance(error, ServerUnavailableError):  # the transport's own words differ
        return type(error).__name__, error.base_url == base_url
    message = re.sub(r"\d+ characters", "N characters", str(error).replace(base_url, "URL"))
    return type(error).__name__, status, said, message


def _records(script: ScriptedServer | ScriptedBackend) -> list[tuple]:
    return [(r.path, r.body, r.status) for r in script.all_requests]


async def _both(name: str, steps: list[Step], call: Call, timeout: float = 120.0):
    transcription = "transcri" in name
    server = ScriptedServer(transcript="said").start()
    client = VoxtralClient(server.base_url, max_retries=0, timeout=timeout)
    try:
        for step in steps:
            (server.add_transcription if transcription else server.add)(step)
        over_http = await _outcome(client, [], call, transcription)
        server_records = _records(server)
    finally:
        await client.aclose()
        server.stop()
    backend = ScriptedBackend(transcript="said", timeout=timeout)
    in_process = await _outcome(backend, steps, call, transcription)
    return over_http, in_process, server_records, _records(backend)


@pytest.mark.parametrize("name", list(CASES))
async def test_the_backend_answers_as_the_server_and_client(name: str) -> None:
    over_http, in_process, server_records, backend_records = await _both(name, *CASES[name])
    assert in_process == over_http
    assert backend_records == server_records


@pytest.mark.parametrize("name", list(PAST_THE_DEADLINE))
async def test_a_deadline_ends_both_the_same_way(name: str) -> None:
    over_http, in_process, server_records, backend_records = await _both(
        name, *PAST_THE_DEADLINE[name]
    )
    (error, seen), (error_over_http, seen_over_http) = in_process, over_http
    assert error == error_over_http
    assert set(seen) == set(seen_over_http)  # how many deltas came in time is the clock's
    assert backend_records == server_records


async def test_retries_give_the_same_records() -> None:
    steps = [Step(kind="http_error", status=503), Step(kind="disconnect"), Step(content="ok")]
    with ScriptedServer() as server:
        for step in steps:
            server.add(step)
        client = VoxtralClient(server.base_url, max_retries=2, retry_backoff=0.001)
        try:
            reply = await client.chat(model=MODEL, messages=HI)
        finally:
            await client.aclose()
        server_records = _records(server)
    backend = ScriptedBackend(max_retries=2)
    for step in steps:
        backend.add(step)
    assert (await backend.chat(model=MODEL, messages=HI)).content == reply.content == "ok"
    assert _records(backend) == server_records
