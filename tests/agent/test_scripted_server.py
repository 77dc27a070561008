import copy
import json

import httpx2
import pytest

from agent import Agent
from agent._probe import tool_calling_probe
from agent.clips import load_clip
from agent.testing import ScriptedServer, tone

AUDIO = load_clip(tone(0.5), sample_rate=16000).base64()
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def _body(**extra) -> dict:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "input_audio", "input_audio": {"data": AUDIO, "format": "wav"}},
                {"type": "text", "text": "weather?"},
            ],
        }
    ]
    tools = copy.deepcopy(TOOLS)
    return {"model": "voxtral-scripted", "messages": messages, "tools": tools, **extra}


def _events(response: httpx2.Response) -> list:
    lines = [line for line in response.text.split("\n\n") if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]]


def test_health_and_models_answer_like_vllm() -> None:
    with ScriptedServer(model="vox", max_model_len=4096) as server:
        assert httpx2.get(f"http://127.0.0.1:{server.port}/health").status_code == 200
        models = httpx2.get(f"{server.base_url}/models").json()
        assert models["object"] == "list"
        assert models["data"][0]["id"] == "vox"
        assert models["data"][0]["max_model_len"] == 4096


def test_a_tool_call_reply_has_vllm_shape() -> None:
    with ScriptedServer() as server:
        server.reply_tool_call("get_weather", {"city": "Paris"})
        body = httpx2.post(f"{server.base_url}/chat/completions", json=_body()).json()
    choice = body["choices"][0]
    assert body["object"] == "chat.completion"
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert len(call["id"]) == 9 and call["id"].isalnum()
    assert call["type"] == "function"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert choice["message"]["content"] is None
    assert set(body["usage"]) >= {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert body["usage"]["prompt_tokens"] >= 376


def test_a_named_tool_choice_finishes_with_stop_like_vllm() -> None:
    with ScriptedServer() as server:
        server.reply_tool_call("get_weather", {"city": ""})
        choice = {"type": "function", "function": {"name": "get_weather"}}
        body = httpx2.post(
            f"{server.base_url}/chat/completions", json=_body(tool_choice=choice)
        ).json()
    assert body["choices"][0]["finish_reason"] == "stop"


def test_streamed_tool_calls_come_as_vllm_streams_them() -> None:
    with ScriptedServer() as server:
        server.reply_tool_call("get_weather", {"city": "Paris"})
        response = httpx2.post(
            f"{server.base_url}/chat/completions",
            json=_body(stream=True, stream_options={"include_usage": True}),
        )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response)
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    first_call = events[1]["choices"][0]["delta"]["tool_calls"][0]
    assert set(first_call) == {"id", "type", "index", "function"}
    assert first_call["function"] == {"name": "get_weather"}
    pieces = [
        event["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        for event in events[2:]
        if event["choices"] and "tool_calls" in event["choices"][0]["delta"]
    ]
    assert json.loads("".join(pieces)) == {"city": "Paris"}
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[-1]["choices"] == [] and events[-1]["usage"]["prompt_tokens"] > 0


def test_streamed_text_ends_with_a_stop_chunk() -> None:
    with ScriptedServer() as server:
        server.reply("Hello there, friend.")
        events = _events(
            httpx2.post(f"{server.base_url}/chat/completions", json=_body(stream=True))
        )
    text = "".join(event["choices"][0]["delta"].get("content", "") for event in events)
    assert text == "Hello there, friend."
    assert events[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        (
            lambda b: b["messages"].insert(0, {"role": "system", "content": "x"}),
            400,
            "Found system messages",
        ),
        (
            lambda b: b["messages"][0]["content"].extend(b["messages"][0]["content"][:1] * 5),
            400,
            "At most 5 audio(s)",
        ),
        (lambda b: b.update(model="nope"), 404, "does not exist"),
        (lambda b: b.update(chat_template="x"), 400, "chat_template is not supported"),
        (lambda b: b["tools"][0]["function"].update(name="a.b"), 400, "Function name was a.b"),
        (
            lambda b: b["messages"].extend(
                [{"role": "assistant", "content": ""}, {"role": "user", "content": "and?"}]
            ),
            400,
            "Invalid assistant message",
        ),
        (lambda b: b.update(max_tokens=10**6), 400, "max_tokens=1000000"),
    ],
)
def test_rule_violations_get_vllms_400_body(change, status: int, words: str) -> None:
    body = _body()
    change(body)
    with ScriptedServer() as server:
        response = httpx2.post(f"{server.base_url}/chat/completions", json=body)
        assert len(server.rejected) == 1
    assert response.status_code == status
    error = response.json()["error"]
    assert words in error["message"]
    assert error["code"] == status and set(error) == {"message", "type", "param", "code"}


def test_transcriptions_answer_the_queued_text() -> None:
    with ScriptedServer(transcript="default") as server:
        server.transcribe_as("first")
        url = f"{server.base_url}/audio/transcriptions"
        files = {"file": ("a.wav", load_clip(tone(1.5), sample_rate=16000).wav(), "audio/wav")}
        data = {"model": "voxtral-scripted", "language": "fr"}
        first = httpx2.post(url, files=files, data=data).json()
        second = httpx2.post(url, files=files, data=data).json()
        bad = httpx2.post(url, files={"file": ("a.wav", b"junk", "audio/wav")}, data=data)
        assert server.transcriptions[0].body["language"] == "fr"
    assert first == {"text": "first", "usage": {"type": "duration", "seconds": 2}}
    assert second["text"] == "default"
    assert bad.status_code == 400


def test_verify_fails_on_unused_steps_and_unexpected_requests() -> None:
    server = ScriptedServer().start()
    server.reply("never asked for")
    with pytest.raises(AssertionError, match="never used"):
        server.verify()
    server.stop()
    server = ScriptedServer().start()
    response = httpx2.post(f"{server.base_url}/chat/completions", json=_body())
    assert response.status_code == 400  # not retried: the test fails at once
    with pytest.raises(AssertionError, match="no scripted reply left"):
        server.verify()
    server.stop()


def test_expectations_check_the_request() -> None:
    server = ScriptedServer().start()

    def wants_text_only(request) -> None:
        assert request.audio_count == 0, "expected no audio"

    server.reply("ok", expect=wants_text_only)
    response = httpx2.post(f"{server.base_url}/chat/completions", json=_body())
    assert response.status_code == 400
    with pytest.raises(AssertionError, match="expected no audio"):
        server.verify()
    server.stop()


def test_the_fixture_gives_a_started_server(scripted_server) -> None:
    scripted_server.reply("hi")
    body = httpx2.post(f"{scripted_server.base_url}/chat/completions", json=_body()).json()
    assert body["choices"][0]["message"]["content"] == "hi"


@pytest.mark.parametrize(
    ("extra", "content"),
    [
        ({"tool_choice": "auto"}, None),  # vLLM's mistral tool parser: null for no text
        ({"tool_choice": "required"}, ""),
        ({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, ""),
    ],
)
def test_empty_content_is_null_or_empty_as_vllm_gives_it(extra, content) -> None:
    with ScriptedServer() as server:
        server.reply_tool_call("get_weather", {"city": ""})
        body = httpx2.post(f"{server.base_url}/chat/completions", json=_body(**extra)).json()
    assert body["choices"][0]["message"]["content"] == content


def test_a_prompt_over_the_context_is_refused_but_max_tokens_is_not() -> None:
    with ScriptedServer(max_model_len=1024) as server:
        server.reply("fits")
        fits = httpx2.post(f"{server.base_url}/chat/completions", json=_body(max_tokens=1000))
        too_long = _body()
        too_long["messages"].append({"role": "user", "content": "word " * 2000})
        refused = httpx2.post(f"{server.base_url}/chat/completions", json=too_long)
    assert fits.status_code == 200
    assert refused.status_code == 400
    assert "even without any output tokens" in refused.json()["error"]["message"]
    assert refused.json()["error"]["param"] == "input_tokens"


def test_transcription_refuses_a_language_vllm_refuses() -> None:
    wav = load_clip(tone(0.5), sample_rate=16000).wav()
    with ScriptedServer() as server:
        response = httpx2.post(
            f"{server.base_url}/audio/transcriptions",
            files={"file": ("a.wav", wav, "audio/wav")},
            data={"model": server.model, "language": "english"},
        )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("Unsupported language: 'english'.")


def test_verify_reports_transcripts_never_used() -> None:
    server = ScriptedServer().start()
    server.transcribe_as("never asked")
    with pytest.raises(AssertionError, match="transcript"):
        server.verify()
    server.stop()


async def test_the_tool_calling_probe_is_answered_without_a_step() -> None:
    with ScriptedServer() as server:
        server.reply("hello")
        async with Agent(base_url=server.base_url) as agent:
            info = await agent.check_server()
            assert info.tool_calling is True
            assert (await agent.run(text="hi")).text == "hello"
        assert len(server.probes) == 1 and server.probes[0].status == 200
        assert len(server.requests) == 1 and not server.requests[0].is_probe
        assert server.pending == 0


async def test_with_tool_calling_off_the_probe_gets_vllms_400() -> None:
    with ScriptedServer(tool_calling=False) as server:
        async with Agent(base_url=server.base_url) as agent:
            info = await agent.check_server()
        assert info.tool_calling is False
        assert "--enable-auto-tool-choice" in (info.tool_calling_message or "")
        assert [r.status for r in server.probes] == [400]
        assert server.requests == []


def test_a_request_like_the_probe_but_not_it_takes_a_step() -> None:
    with ScriptedServer() as server:
        server.reply("scripted")
        body = tool_calling_probe(server.model) | {"max_tokens": 2}
        answer = httpx2.post(f"{server.base_url}/chat/completions", json=body).json()
        assert answer["choices"][0]["message"]["content"] == "scripted"
        assert server.probes == [] and len(server.requests) == 1


def test_stop_ends_open_connections_and_delayed_steps() -> None:
    import threading
    import time

    server = ScriptedServer().start()
    server.reply("late", delay=30)
    client = httpx2.Client(base_url=server.base_url, timeout=60)
    assert client.get("/models").status_code == 200  # a keep-alive connection stays open
    answer: list[object] = []
    waiting = threading.Thread(target=lambda: answer.append(_post(client, _body())), daemon=True)
    waiting.start()
    while not server.all_requests:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    waiting.join(5)
    assert isinstance(answer[0], httpx2.HTTPError)
    assert not [t for t in threading.enumerate() if t.name == "ScriptedServer-connection"]
    client.close()


def _post(client: httpx2.Client, body: dict) -> object:
    try:
        return client.post("/chat/completions", json=body)
    except httpx2.HTTPError as error:
        return error
