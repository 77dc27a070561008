"""The ScriptedServer answers in the shapes the real vLLM server uses (keys, chunk order, 400s)."""

import base64
import copy
import io
import json
from typing import Any

import httpx2
import numpy as np
import pytest
import soundfile as sf

from agent.clips import load_clip
from agent.testing import ScriptedServer, tone

from .conftest import needs_vllm

pytestmark = [needs_vllm, pytest.mark.vllm]

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def _body(model: str, **extra: Any) -> dict[str, Any]:
    audio = load_clip(tone(1.0), sample_rate=16000).base64()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}},
                {"type": "text", "text": "What is the weather?"},
            ],
        }
    ]
    return {"model": model, "messages": messages, "tools": copy.deepcopy(TOOLS),
            "max_tokens": 100, **extra}  # fmt: skip


def _real_model(base_url: str) -> str:
    return str(httpx2.get(f"{base_url}/models").json()["data"][0]["id"])


def _post(url: str, body: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(f"{url}/chat/completions", json=body, timeout=120)


def _stream_shape(response: httpx2.Response) -> list[tuple[str, ...]]:
    shapes = []
    for line in response.text.split("\n\n"):
        if not line or line == "data: [DONE]":
            continue
        event = json.loads(line.removeprefix("data: "))
        if event["choices"]:
            delta = event["choices"][0]["delta"]
            calls = delta.get("tool_calls") or [{}]
            shapes.append(tuple(sorted(delta)) + tuple(sorted(calls[0])))
        else:
            shapes.append(("usage",))
    return shapes


def test_a_required_tool_call_has_the_same_shape(base_url: str) -> None:
    real = _post(base_url, _body(_real_model(base_url), tool_choice="required")).json()
    with ScriptedServer() as server:
        server.reply_tool_call("get_weather", {"city": ""})
        scripted = _post(server.base_url, _body(server.model, tool_choice="required")).json()
    for body in (real, scripted):
        choice = body["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        call = choice["message"]["tool_calls"][0]
        assert set(call) == {"id", "type", "function"}
        assert len(call["id"]) == 9 and call["id"].isalnum()
    assert set(scripted) <= set(real)
    assert set(scripted["choices"][0]["message"]) <= set(real["choices"][0]["message"])
    assert set(scripted["usage"]) <= set(real["usage"])


def test_a_streamed_tool_call_has_the_same_chunk_sequence(base_url: str) -> None:
    extra = {"tool_choice": "required", "stream": True, "stream_options": {"include_usage": True}}
    real = _post(base_url, _body(_real_model(base_url), **extra))
    with ScriptedServer() as server:
        server.reply_tool_call("get_weather", {"city": ""})
        scripted = _post(server.base_url, _body(server.model, **extra))
    real_shape, scripted_shape = _stream_shape(real), _stream_shape(scripted)
    assert scripted_shape[:2] == real_shape[:2]  # role chunk, then id + name chunk
    assert scripted_shape[-3:] == real_shape[-3:]  # empty delta, finish, usage
    assert set(scripted_shape) == set(real_shape)


@pytest.mark.parametrize(
    "breakage",
    [
        "system_with_audio",
        "bad_tool_call_id",
        "empty_assistant",
        "six_audio",
        "dotted_name",
        "assistant_last",
        "tool_after_user",
        "required_without_tools",
        "stereo_audio",
        "bad_base64",
    ],
)
def test_the_same_requests_are_refused_with_the_same_message(base_url: str, breakage: str):
    def broken(model: str) -> dict[str, Any]:
        body = _body(model)
        messages = body["messages"]
        if breakage == "system_with_audio":
            messages.insert(0, {"role": "system", "content": "Be brief."})
        elif breakage == "bad_tool_call_id":
            call = {"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"}}  # fmt: skip
            messages += [{"role": "assistant", "content": None, "tool_calls": [call]},
                         {"role": "tool", "tool_call_id": "call_1", "content": "x"}]  # fmt: skip
        elif breakage == "empty_assistant":
            messages += [{"role": "assistant", "content": ""}, {"role": "user", "content": "?"}]
        elif breakage == "six_audio":
            messages[0]["content"] = messages[0]["content"][:1] * 6
        elif breakage == "assistant_last":
            messages.append({"role": "assistant", "content": "Hello."})
        elif breakage == "tool_after_user":
            messages.append({"role": "tool", "tool_call_id": "abcDEF123", "content": "x"})
        elif breakage == "required_without_tools":
            del body["tools"]
            body["tool_choice"] = "required"
        elif breakage == "stereo_audio":
            stereo = io.BytesIO()
            sf.write(stereo, np.zeros((16000, 2), dtype=np.int16), 16000, format="WAV")
            part = messages[0]["content"][0]["input_audio"]
            part["data"] = base64.b64encode(stereo.getvalue()).decode()
        elif breakage == "bad_base64":
            messages[0]["content"][0]["input_audio"]["data"] = "@@not base64@@"
        else:
            body["tools"][0]["function"]["name"] = "get.weather"
        return body

    real = _post(base_url, broken(_real_model(base_url)))
    with ScriptedServer() as server:
        scripted = _post(server.base_url, broken(server.model))
    assert real.status_code == scripted.status_code == 400
    real_error, scripted_error = real.json()["error"], scripted.json()["error"]
    assert set(real_error) == set(scripted_error)
    assert real_error["type"] == scripted_error["type"]
    assert real_error["param"] == scripted_error["param"]
    # The messages agree up to the repr of the refused message.
    assert scripted_error["message"][:24] == real_error["message"][:24]


@pytest.mark.parametrize("tool_choice", ["required", "auto", "named"])
def test_the_reply_content_is_null_or_empty_as_vllm_gives_it(base_url: str, tool_choice: str):
    choice: Any = tool_choice
    if tool_choice == "named":
        choice = {"type": "function", "function": {"name": "get_weather"}}
    real = _post(base_url, _body(_real_model(base_url), tool_choice=choice)).json()
    if tool_choice == "auto" and real["choices"][0]["message"]["content"]:
        pytest.skip("this model says something to 'auto'; the tiny one answers empty")
    with ScriptedServer() as server:
        if tool_choice == "auto":
            server.reply("")  # the tiny model's answer to "auto"
        else:
            server.reply_tool_call("get_weather", {"city": ""})
        scripted = _post(server.base_url, _body(server.model, tool_choice=choice)).json()
    real_choice, scripted_choice = real["choices"][0], scripted["choices"][0]
    assert scripted_choice["message"]["content"] == real_choice["message"]["content"]
    assert scripted_choice["finish_reason"] == real_choice["finish_reason"]


def test_models_health_and_transcription_answer_alike(base_url: str) -> None:
    root = base_url.removesuffix("/v1")
    wav = load_clip(tone(1.0), sample_rate=16000).wav()
    with ScriptedServer(transcript="") as server:
        for url_root in (root, server.base_url.removesuffix("/v1")):
            assert httpx2.get(f"{url_root}/health").status_code == 200
        real_models = httpx2.get(f"{base_url}/models").json()
        scripted_models = httpx2.get(f"{server.base_url}/models").json()
        assert set(scripted_models["data"][0]) == set(real_models["data"][0])

        def transcribe(url: str, model: str, **fields: str) -> httpx2.Response:
            return httpx2.post(
                f"{url}/audio/transcriptions",
                files={"file": ("a.wav", wav, "audio/wav")},
                data={"model": model, **fields},
                timeout=120,
            )

        real_model = _real_model(base_url)
        ok = (transcribe(base_url, real_model), transcribe(server.base_url, server.model))
        real_text, scripted_text = ok[0].json(), ok[1].json()
        assert set(real_text) == set(scripted_text)
        assert real_text["usage"] == scripted_text["usage"]  # {"type": "duration", "seconds": 1}
        bad = (
            transcribe(base_url, real_model, language="english"),
            transcribe(server.base_url, server.model, language="english"),
        )
        assert bad[0].status_code == bad[1].status_code == 400
        assert bad[0].json()["error"]["message"] == bad[1].json()["error"]["message"]


def test_the_tool_calling_probe_is_answered_alike_without_a_step(base_url: str) -> None:
    from agent._probe import tool_calling_probe

    real = _post(base_url, tool_calling_probe(_real_model(base_url)))
    with ScriptedServer() as server:  # nothing scripted: the probe takes no step
        scripted = _post(server.base_url, tool_calling_probe(server.model))
        assert len(server.probes) == 1 and server.requests == []
    assert real.status_code == scripted.status_code == 200
    real_message = real.json()["choices"][0]["message"]
    scripted_message = scripted.json()["choices"][0]["message"]
    assert "tool_calls" not in scripted_message
    if real_message["content"]:
        pytest.skip("this model says a word to the probe; the tiny one answers empty")
    assert scripted_message["content"] == real_message["content"]
