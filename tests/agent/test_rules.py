import base64
import io

import numpy as np
import pytest
import soundfile as sf

from agent._rules import RuleViolation, check_chat_request
from agent.clips import load_clip
from agent.testing import tone

AUDIO = load_clip(tone(0.2), sample_rate=16000).base64()


def _audio_part(data: str = AUDIO) -> dict:
    return {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}


def _call(call_id: str = "abcDEF123") -> dict:
    return {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("messages", "words"),
    [
        (
            [{"role": "system", "content": "hi"}, {"role": "user", "content": [_audio_part()]}],
            "system messages",
        ),
        (
            [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": None, "tool_calls": [_call("call_1")]},
                {"role": "tool", "tool_call_id": "call_1", "content": "x"},
            ],
            "Tool call id was call_1",
        ),
        (
            [
                {"role": "user", "content": "q"},
                {"role": "tool", "tool_call_id": "abcDEF123", "content": "x"},
            ],
            "Unexpected role 'tool' after role 'user'",
        ),
        (
            [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": ""},
                {"role": "user", "content": "r"},
            ],
            "Invalid assistant message",
        ),
        ([{"role": "user", "content": [_audio_part()] * 6}], "At most 5 audio"),
        (
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            "Expected last role",
        ),
    ],
)
def test_requests_vllm_refuses_are_refused_with_its_words(messages: list, words: str) -> None:
    with pytest.raises(RuleViolation, match=words):
        check_chat_request(messages)


def test_tool_names_must_match_the_pattern() -> None:
    tools = [{"type": "function", "function": {"name": "get.weather", "parameters": {}}}]
    with pytest.raises(RuleViolation, match=r"Function name was get\.weather"):
        check_chat_request([{"role": "user", "content": "q"}], tools)


def test_a_valid_tool_round_passes() -> None:
    check_chat_request(
        [
            {"role": "user", "content": [_audio_part(), {"type": "text", "text": "q"}]},
            {"role": "assistant", "content": None, "tool_calls": [_call()]},
            {"role": "tool", "tool_call_id": "abcDEF123", "content": "result"},
        ]
    )


def test_stereo_and_headerless_audio_are_refused_when_checking_data() -> None:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros((1600, 2), dtype=np.int16), 16000, format="WAV")
    stereo = base64.b64encode(buffer.getvalue()).decode()
    raw = base64.b64encode(tone(0.1).tobytes()).decode()
    with pytest.raises(RuleViolation, match="ndim=2"):
        check_chat_request(
            [{"role": "user", "content": [_audio_part(stereo)]}], check_audio_data=True
        )
    with pytest.raises(RuleViolation, match="Invalid or unsupported audio"):
        check_chat_request([{"role": "user", "content": [_audio_part(raw)]}], check_audio_data=True)
