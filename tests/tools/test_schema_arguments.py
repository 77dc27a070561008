"""`Tool.from_schema`: arguments described by a JSON schema, validated with jsonschema."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import jsonschema
import pytest
from mistral_common.protocol.instruct.request import ChatCompletionRequest

from tests.tools.helpers import assert_failed
from tools import Tool, Toolbox, tool

FORECAST = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "The city."},
        "days": {"type": "integer", "minimum": 1, "maximum": 7, "default": 1},
        "unit": {"enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
    "additionalProperties": False,
}


def _forecast(arguments: dict[str, Any]) -> str:
    return f"{arguments['city']} for {arguments.get('days', 1)} days"


class TestCalls:
    @pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
    async def test_the_function_gets_the_arguments_as_a_dict(self, is_async: bool) -> None:
        received: list[dict[str, Any]] = []

        def sync_forecast(arguments: dict[str, Any]) -> str:
            received.append(arguments)
            return _forecast(arguments)

        async def async_forecast(arguments: dict[str, Any]) -> str:
            await asyncio.sleep(0)
            return sync_forecast(arguments)

        function = async_forecast if is_async else sync_forecast
        forecast = Tool.from_schema("forecast", "The weather to come.", FORECAST, function)
        assert forecast.is_async is is_async and forecast.arguments_model is None
        result = await Toolbox([forecast]).call("forecast", '{"city": "Oslo", "days": 3}', "c1")
        assert result.ok and result.content == "Oslo for 3 days" and result.call_id == "c1"
        assert received == [{"city": "Oslo", "days": 3}]

    def test_schema_and_metadata(self) -> None:
        forecast = Tool.from_schema("forecast", "The weather to come.", FORECAST, _forecast)
        assert forecast.schema == {
            "type": "function",
            "function": {
                "name": "forecast",
                "description": "The weather to come.",
                "parameters": FORECAST,
            },
        }
        assert forecast.parameters is not forecast.parameters  # a fresh copy each time
        assert forecast({"city": "Rome"}) == "Rome for 1 days"  # still the plain function

    @pytest.mark.parametrize(
        ("arguments", "expected"),
        [
            ({}, "'city' is a required property"),
            ({"city": 5}, "city: 5 is not of type 'string'"),
            ({"city": "Oslo", "days": 9}, "days: 9 is greater than the maximum of 7"),
            ({"city": "Oslo", "days": "3"}, "days: '3' is not of type 'integer'"),
            ({"city": "Oslo", "unit": "kelvin"}, "unit: 'kelvin' is not one of"),
            ({"city": "Oslo", "extra": 1}, "Additional properties are not allowed"),
        ],
    )
    async def test_invalid_arguments_are_a_result_naming_the_argument(
        self, arguments: dict[str, Any], expected: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        ran: list[dict[str, Any]] = []
        forecast = Tool.from_schema("forecast", "", FORECAST, ran.append)
        with caplog.at_level(logging.WARNING, logger="tools"):
            result = await Toolbox([forecast]).call("forecast", arguments)
        assert_failed(result, "invalid_arguments")
        assert result.content.startswith("Invalid arguments for forecast: ")
        assert expected in result.content
        assert ran == [] and caplog.records == []  # not a bug of the tool: nothing logged

    async def test_timeouts_approval_and_exceptions_hold(self) -> None:
        async def hang(arguments: dict[str, Any]) -> None:
            await asyncio.Event().wait()

        def explode(arguments: dict[str, Any]) -> None:
            raise LookupError("no such city")

        ran: list[dict[str, Any]] = []
        object_schema = {"type": "object"}
        box = Toolbox(
            [
                Tool.from_schema("hang", "", object_schema, hang, timeout=0.05),
                Tool.from_schema("explode", "", object_schema, explode),
                Tool.from_schema("wipe", "", object_schema, ran.append, requires_approval=True),
            ],
            approve=lambda name, arguments: False,
        )
        hung, exploded, wiped = await box.call_many(
            [("hang", None), ("explode", None), ("wipe", None)]
        )
        assert_failed(hung, "timeout")
        assert_failed(exploded, "exception")
        assert exploded.content == "explode failed: LookupError: no such city"
        assert_failed(wiped, "not_approved")
        assert ran == []

    def test_tool_options_on_a_schema_tool_keep_its_schema(self) -> None:
        forecast = Tool.from_schema("forecast", "The weather to come.", FORECAST, _forecast)
        renamed = tool(name="weather", timeout=5)(forecast)
        assert renamed.name == "weather" and renamed.timeout == 5
        assert renamed.parameters == FORECAST and renamed.description == forecast.description
        assert renamed.function is _forecast


TAGS = {
    "type": "object",
    "$defs": {
        "Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
    },
    "definitions": {"Label": {"type": "string", "format": "x-color", "maxLength": 20}},
    "properties": {
        "tags": {"type": "array", "items": {"$ref": "#/definitions/Label"}, "uniqueItems": True},
        "where": {"$ref": "#/$defs/Point"},
        "pair": {
            "type": "array",
            "items": [{"type": "integer"}, {"type": "string"}],
            "minItems": 2,
        },
        "span": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "integer"}]},
        "when": {"type": "string", "format": "date"},
    },
}


class TestOfferedSchema:
    def test_made_what_vllm_accepts_while_the_original_validates(self) -> None:
        tagger = Tool.from_schema("tag", "Tag a place.", TAGS, lambda arguments: "ok")
        props = tagger.parameters["properties"]
        assert props["tags"] == {"type": "array", "items": {"type": "string", "maxLength": 20}}
        assert props["where"] == {
            "type": "object",
            "properties": {"x": {"type": "number"}},
            "required": ["x"],
        }
        assert props["pair"] == {
            "type": "array",
            "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "minItems": 2,
        }
        assert props["span"] == {"type": "array", "items": {"type": "integer"}}
        assert props["when"] == {"type": "string", "format": "date"}  # a known format stays
        assert "$defs" not in tagger.parameters and "definitions" not in tagger.parameters
        jsonschema.Draft7Validator.check_schema(tagger.parameters)
        request = ChatCompletionRequest.from_openai(
            [{"role": "user", "content": "hi"}], [tagger.schema]
        )
        assert request.tools is not None

    @pytest.mark.parametrize(
        ("arguments", "expected"),
        [
            ({"tags": ["red", "red"]}, "has non-unique elements"),
            ({"pair": ["1", "a"]}, "pair[0]: '1' is not of type 'integer'"),
            ({"where": {}}, "where: 'x' is a required property"),
        ],
    )
    async def test_arguments_are_checked_against_the_original(
        self, arguments: dict[str, Any], expected: str
    ) -> None:
        tagger = Tool.from_schema("tag", "", TAGS, lambda arguments: "ok")
        result = await Toolbox([tagger]).call("tag", arguments)
        assert_failed(result, "invalid_arguments")
        assert expected in result.content
        assert (await Toolbox([tagger]).call("tag", {"tags": ["red"], "pair": [1, "a"]})).ok


NODE = {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}
RECURSIVE = {
    "type": "object",
    "$defs": {"Node": NODE},
    "properties": {"head": {"$ref": "#/$defs/Node"}},
}


class TestConstructionErrors:
    @pytest.mark.parametrize(
        ("parameters", "message"),
        [
            (RECURSIVE, r"cannot be offered to the model: recursive type 'Node'.*\(\$ref\)"),
            (
                {"type": "object", "properties": {"x": {"$ref": "https://example.invalid/x.json"}}},
                r"cannot be offered to the model: .*\$ref 'https://example.invalid/x.json'",
            ),
            (
                {"type": "object", "properties": {"x": {"$ref": "#/properties/y"}, "y": {}}},
                r"\$ref '#/properties/y'",
            ),
            (
                {
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object",
                    "properties": {"x": {"$dynamicRef": "#meta"}},
                },
                r"cannot be offered to the model: \$dynamicRef",
            ),
            ({"type": "array"}, r'must describe an object \("type": "object"\)'),
            ({"type": "object", "properties": 5}, r"not a valid JSON schema: 5 is not of type"),
            ({"type": "object", "required": "city"}, r"not a valid JSON schema"),
        ],
        ids=[
            "recursive",
            "remote-ref",
            "non-definition-ref",
            "dynamic-ref",
            "not-object",
            "bad-properties",
            "bad-required",
        ],
    )
    def test_a_schema_that_cannot_be_offered_fails_naming_the_keyword(
        self, parameters: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(ValueError, match=message) as caught:
            Tool.from_schema("odd", "", parameters, lambda arguments: None)
        assert "tool 'odd'" in str(caught.value)

    def test_bad_name_function_and_schema_type(self) -> None:
        with pytest.raises(ValueError, match="invalid tool name"):
            Tool.from_schema("no spaces", "", {"type": "object"}, lambda arguments: None)
        with pytest.raises(TypeError, match="needs a function"):
            Tool.from_schema("x", "", {"type": "object"}, 42)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="must be a JSON schema"):
            Tool.from_schema("x", "", ["type"], lambda arguments: None)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="timeout"):
            Tool.from_schema("x", "", {"type": "object"}, lambda arguments: None, timeout=0)
