"""`ToolResult`: immutable, JSON-able, and a tool message."""

from __future__ import annotations

import dataclasses
import json

import pytest
from mistral_common.protocol.instruct.request import ChatCompletionRequest
from mistral_common.protocol.instruct.validator import ValidationMode, get_validator
from mistral_common.tokens.tokenizers.base import TokenizerVersion

from tools import NO_OUTPUT, Toolbox, ToolResult, tool


def test_to_dict_is_json_able() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    result = ToolResult(
        ok=True,
        content="[1,2]",
        value={"items": (1, 2), "thing": Opaque()},
        name="count",
        arguments={"n": 2},
        call_id="Qx7Kp2LmZ",
        duration=0.25,
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert data == {
        "call_id": "Qx7Kp2LmZ",
        "name": "count",
        "arguments": {"n": 2},
        "ok": True,
        "content": "[1,2]",
        "value": {"items": [1, 2], "thing": "<opaque>"},
        "error": None,
        "error_kind": None,
        "duration": 0.25,
    }


def test_to_message() -> None:
    result = ToolResult(ok=False, content="Nope.", error="Nope.", call_id="Qx7Kp2LmZ")
    assert result.to_message() == {
        "role": "tool",
        "tool_call_id": "Qx7Kp2LmZ",
        "content": "Nope.",
    }


@pytest.mark.parametrize("content", ["", "   "])
async def test_to_message_never_sends_an_empty_tool_message(content: str) -> None:
    result = ToolResult(ok=True, content=content, call_id="Qx7Kp2LmZ")
    assert result.to_message()["content"] == NO_OUTPUT == "(no output)"
    returned = await Toolbox([tool(name="quiet")(lambda: "")]).call("quiet", None, "abcdefghi")
    assert returned.content == ""  # what the tool gave, unchanged
    assert returned.to_message() == {
        "role": "tool",
        "tool_call_id": "abcdefghi",
        "content": "(no output)",
    }


def test_to_dict_of_values_that_cannot_be_printed_or_serialised() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    looped: list[object] = []
    looped.append(looped)
    result = ToolResult(ok=True, content="x", value={"a": Hostile()}, arguments={"b": looped})
    data = json.loads(json.dumps(result.to_dict()))
    assert data["value"] == {"a": "<Hostile object>"}
    assert isinstance(data["arguments"], str)


def test_frozen() -> None:
    result = ToolResult(ok=True, content="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.ok = False  # type: ignore[misc]


async def test_tool_message_passes_mistral_common_validation() -> None:
    @tool
    def get_time(city: str) -> str:
        """The local time in a city."""
        return "12:00"

    box = Toolbox([get_time])
    results = await box.call_many(
        [("get_time", '{"city": "Oslo"}', "Qx7Kp2LmZ"), ("get_tim", "{}", "Zy8Lq3MnA")]
    )
    messages = [
        {"role": "user", "content": "What time is it in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": r.call_id,
                    "type": "function",
                    "function": {"name": r.name, "arguments": "{}"},
                }
                for r in results
            ],
        },
        *(r.to_message() for r in results),
    ]
    request = ChatCompletionRequest.from_openai(messages, box.schemas())
    get_validator(TokenizerVersion.v7, ValidationMode.test).validate_messages(request.messages)
