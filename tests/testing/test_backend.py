"""`ScriptedBackend`: the script of a `ScriptedServer`, answered in process (no sockets)."""

import asyncio
import socket

import pytest

from agent.backend import Backend, ModelReply
from agent.clips import load_clip
from agent.errors import (
    InvalidRequestError,
    RequestRejectedError,
    ServerError,
    ServerUnavailableError,
    StreamError,
)
from agent.testing import ScriptedBackend, ScriptedCall, Step, tone
from tests.testing.helpers import HI, MODEL, TOOLS


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend must not connect or listen anywhere (the event loop's own pair may be made)."""

    def refuse(*args, **kwargs):
        raise AssertionError("ScriptedBackend used the network")

    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, refuse)


async def _chat(backend: ScriptedBackend, **options) -> tuple[ModelReply, list[str]]:
    seen: list[str] = []
    options.setdefault("messages", HI)
    reply = await backend.chat(model=MODEL, on_text=seen.append, **options)
    return reply, seen


def test_it_is_a_backend() -> None:
    assert isinstance(ScriptedBackend(), Backend)


async def test_a_streamed_reply_goes_through_on_text_delta_by_delta() -> None:
    backend = ScriptedBackend().reply("Hello there, friend.")
    reply, seen = await _chat(backend, stream=True)
    assert seen == ["Hello th", "ere, fri", "end."]
    assert reply.content == "Hello there, friend." and reply.finish_reason == "stop"
    assert reply.prompt_tokens > 0 and reply.completion_tokens > 0
    assert backend.requests[0].stream and backend.requests[0].body["stream_options"]
    backend.verify()


async def test_a_plain_reply_gives_its_text_once() -> None:
    backend = ScriptedBackend().add(Step(deltas=("a", "b")))
    reply, seen = await _chat(backend)
    assert seen == ["ab"] and reply.content == "ab"
    assert not backend.requests[0].stream


async def test_tool_calls_get_vllm_ids() -> None:
    backend = ScriptedBackend().reply_tool_calls(
        ("get_weather", {"city": "Paris"}),
        ScriptedCall("get_weather", '{"city": "Oslo"', id="abcdefghi"),
    )
    reply, _ = await _chat(backend, tools=TOOLS, stream=True)
    first, second = reply.tool_calls
    assert len(first.id) == 9 and first.id.isalnum() and first.name == "get_weather"
    assert first.arguments == '{"city": "Paris"}'
    assert (second.id, second.arguments) == ("abcdefghi", '{"city": "Oslo"')
    assert reply.finish_reason == "tool_calls"
    assert backend.requests[0].tool_names == ["get_weather"]


async def test_a_named_tool_choice_finishes_with_stop() -> None:
    backend = ScriptedBackend().reply_tool_call("get_weather", {"city": ""})
    choice = {"type": "function", "function": {"name": "get_weather"}}
    reply, _ = await _chat(backend, tools=TOOLS, tool_choice=choice)
    assert reply.finish_reason == "stop" and reply.tool_calls[0].name == "get_weather"


async def test_the_same_vllm_rules_refuse_the_same_requests() -> None:
    backend = ScriptedBackend()
    system = [{"role": "system", "content": "x"}, *_audio_message()]
    with pytest.raises(RequestRejectedError, match="Found system messages") as caught:
        await backend.chat(model=MODEL, messages=system)
    assert caught.value.status_code == 400
    with pytest.raises(RequestRejectedError) as too_many:
        await backend.chat(model=MODEL, messages=_audio_message(6))
    assert "At most 5 audio(s)" in too_many.value.server_message
    with pytest.raises(RequestRejectedError) as unknown:
        await backend.chat(model="nope", messages=HI)
    assert unknown.value.status_code == 404
    with pytest.raises(RequestRejectedError, match="continue_final_message"):
        await backend.chat(model=MODEL, messages=[*HI, {"role": "assistant", "content": "hm"}])
    bad_id = [
        *HI,
        {"role": "assistant", "content": "", "tool_calls": [_call("call_1")]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    with pytest.raises(RequestRejectedError):
        await backend.chat(model=MODEL, messages=bad_id, tools=TOOLS)
    assert [r.status for r in backend.rejected] == [400, 400, 404, 400, 400]
    backend.verify()  # a broken rule is the test's finding, not the script's


async def test_context_overflow_is_refused_with_max_model_len() -> None:
    backend = ScriptedBackend(max_model_len=1024)
    with pytest.raises(RequestRejectedError) as caught:
        await backend.chat(model=MODEL, messages=[{"role": "user", "content": "word " * 2000}])
    assert "maximum context length is 1024" in caught.value.server_message


@pytest.mark.parametrize(
    ("step", "error", "status"),
    [
        (Step(kind="http_error", status=400, message="bad"), RequestRejectedError, 400),
        (Step(kind="http_error", status=503, message="busy"), ServerError, 503),
        (Step(kind="http_error", status=429, message="slow down"), ServerError, 429),
        (Step(kind="bad_body", body="<html></html>", content_type="text/html"), ServerError, 200),
        (Step(kind="disconnect"), ServerUnavailableError, None),
        (Step(kind="reset", content="Hello"), ServerUnavailableError, None),
    ],
)
async def test_each_fault_raises_what_the_client_raises(step, error, status) -> None:
    backend = ScriptedBackend().add(step)
    with pytest.raises(error) as caught:
        await _chat(backend)
    assert type(caught.value) is error
    assert getattr(caught.value, "status_code", None) == status
    assert backend.base_url in str(caught.value)
    backend.verify()


async def test_a_rejection_carries_vllms_message() -> None:
    backend = ScriptedBackend().fail(400, "max_tokens is too large")
    with pytest.raises(RequestRejectedError) as caught:
        await _chat(backend)
    assert caught.value.server_message == "max_tokens is too large"


@pytest.mark.parametrize(
    ("step", "error"),
    [
        (Step(kind="stream_error", content="Hello wor", message="engine died"), StreamError),
        (Step(kind="reset", deltas=("Hello ", "wor")), StreamError),
        (Step(kind="cut_stream", content="Hello wor"), StreamError),
    ],
)
async def test_a_stream_broken_after_text_is_a_stream_error_never_replayed(step, error) -> None:
    backend = ScriptedBackend(max_retries=2).add(step).reply("again")
    with pytest.raises(error):
        await _chat(backend, stream=True)
    assert "".join(backend.requests[0].texts) == "hi"
    assert backend.pending == 1  # not retried: the caller already has "Hello wor"


async def test_a_stream_broken_before_any_text_is_retried_when_retries_are_on() -> None:
    backend = ScriptedBackend(max_retries=2).cut_stream().reset_connection().reply("whole")
    reply, seen = await _chat(backend, stream=True)
    assert seen == reply.content.split() == ["whole"] and len(backend.requests) == 3


async def test_without_retries_each_step_answers_one_call() -> None:
    backend = ScriptedBackend().fail(503).reply("later")
    with pytest.raises(ServerError, match="after 1 attempt"):
        await _chat(backend)
    assert (await _chat(backend))[0].content == "later"


async def test_retries_go_through_transient_errors_like_the_client() -> None:
    backend = ScriptedBackend(max_retries=3).fail(503, times=2).disconnect().reply("ok")
    assert (await _chat(backend))[0].content == "ok"
    assert [r.status for r in backend.requests] == [503, 503, 0, 200]


async def test_a_4xx_is_not_retried() -> None:
    backend = ScriptedBackend(max_retries=3).fail(400, "no").reply("unused")
    with pytest.raises(RequestRejectedError):
        await _chat(backend)
    assert backend.pending == 1


async def test_a_hang_times_out_as_the_server_being_unreachable() -> None:
    backend = ScriptedBackend(timeout=0.05).hang()
    with pytest.raises(ServerUnavailableError, match="timed out"):
        await _chat(backend)


async def test_an_endless_trickle_after_text_times_out_as_a_stream_error() -> None:
    backend = ScriptedBackend(timeout=0.1).trickle("la", every=0.01)
    seen: list[str] = []
    with pytest.raises(StreamError, match=r"within 0\.1 s") as caught:
        await backend.chat(model=MODEL, messages=HI, stream=True, on_text=seen.append)
    assert seen and set(seen) == {"la"} and caught.value.received == "".join(seen)


async def test_a_finite_trickle_finishes() -> None:
    backend = ScriptedBackend().trickle("la", every=0.01, duration=0.05)
    reply, seen = await _chat(backend, stream=True)
    assert seen and reply.content == "".join(seen) and reply.finish_reason == "stop"


async def test_a_hang_ends_when_cancelled() -> None:
    backend = ScriptedBackend().hang()
    task = asyncio.create_task(_chat(backend))
    while not backend.requests:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_unscripted_request_fails_verify() -> None:
    backend = ScriptedBackend()
    with pytest.raises(RequestRejectedError, match="no scripted reply left"):
        await _chat(backend)
    with pytest.raises(AssertionError, match="no scripted reply left"):
        backend.verify()
    backend.reply("never asked")
    with pytest.raises(AssertionError, match="never used"):
        backend.verify()


async def test_expectations_check_the_request() -> None:
    def wants_tools(request) -> None:
        assert request.tools, "expected tools"

    backend = ScriptedBackend().reply("ok", expect=wants_tools)
    with pytest.raises(RequestRejectedError, match="expected tools"):
        await _chat(backend)
    with pytest.raises(AssertionError, match="expected tools"):
        backend.verify()


async def test_the_request_is_recorded_as_sent_not_as_changed_later() -> None:
    messages = [{"role": "user", "content": "hi"}]
    backend = ScriptedBackend().reply("ok")
    await backend.chat(model=MODEL, messages=messages, temperature=0.2)
    messages.append({"role": "assistant", "content": "ok"})
    assert backend.requests[0].messages == [{"role": "user", "content": "hi"}]
    assert backend.requests[0].body["temperature"] == 0.2


async def test_server_info_and_the_probe() -> None:
    backend = ScriptedBackend(model="vox", max_model_len=4096)
    info = await backend.server_info()
    assert (info.model, info.models, info.max_model_len) == ("vox", ("vox",), 4096)
    with pytest.raises(InvalidRequestError, match="not served"):
        await backend.server_info("other")
    assert await backend.probe_tool_calling("vox") == (True, None)
    off = ScriptedBackend(tool_calling=False)
    works, message = await off.probe_tool_calling(off.model)
    assert not works and "--enable-auto-tool-choice" in (message or "")
    assert len(backend.probes) == 1 and backend.requests == []


async def test_transcriptions_take_their_steps() -> None:
    wav = load_clip(tone(0.5), sample_rate=16000).wav()
    backend = ScriptedBackend(transcript="default")
    backend.transcribe_as("one", "two").add_transcription(Step(kind="http_error", status=503))
    texts = [await backend.transcribe(wav, model=MODEL, language="fr") for _ in range(2)]
    with pytest.raises(ServerError):
        await backend.transcribe(wav, model=MODEL)
    assert texts == ["one", "two"]
    assert await backend.transcribe(wav, model=MODEL) == "default"
    assert backend.transcriptions[0].body["language"] == "fr"
    backend.verify()


async def test_transcriptions_in_flight_at_once_are_counted() -> None:
    wav = load_clip(tone(0.5), sample_rate=16000).wav()
    backend = ScriptedBackend()
    backend.add_transcription(*(Step(content=t, delay=0.01) for t in "abc"))
    texts = await asyncio.gather(*(backend.transcribe(wav, model=MODEL) for _ in range(3)))
    assert sorted(texts) == ["a", "b", "c"] and backend.max_transcriptions_in_flight == 3


def test_the_fixture_gives_a_backend(scripted_backend: ScriptedBackend) -> None:
    assert isinstance(scripted_backend, ScriptedBackend) and scripted_backend.pending == 0


def _audio_message(count: int = 1) -> list[dict]:
    audio = load_clip(tone(0.5), sample_rate=16000).base64()
    part = {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}}
    return [{"role": "user", "content": [part] * count + [{"type": "text", "text": "what?"}]}]


def _call(call_id: str) -> dict:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }


async def test_an_agent_runs_its_turns_on_the_backend(scripted_backend: ScriptedBackend) -> None:
    from agent import Agent
    from tools import tool

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city.

        Args:
            city: the city name
        """
        return f"sunny in {city}"

    scripted_backend.reply_tool_call("get_weather", {"city": "Paris"}).reply("Sunny.")
    async with Agent([get_weather], client=scripted_backend) as agent:
        turn = await agent.run(text="weather in Paris?")
    assert turn.text == "Sunny."
    assert turn.tool_results[0].value == "sunny in Paris"
    first, second = scripted_backend.requests
    assert first.tool_names == ["get_weather"]
    assert second.tool_messages[0]["content"] == "sunny in Paris"
