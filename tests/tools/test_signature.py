"""`Signature`: the JSON schema a tool's signature gives the model, and the values it binds.

Read as the issue states it: every supported kind of parameter, self-contained draft 7 that
mistral-common accepts, docstring and `Field` descriptions, the hidden `ToolContext`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import typing
from typing import Annotated, Any, Literal

import jsonschema
import pytest
from mistral_common.protocol.instruct.request import ChatCompletionRequest
from pydantic import BaseModel, Field

from tests.tools.samples import get_weather, set_timer
from tools import Tool, Toolbox, ToolContext, tool


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    street: str
    city: str = Field(description="The city.")


class Contact(BaseModel):
    name: str
    address: Address
    others: list[Address] = []


@dataclasses.dataclass
class Span:
    start: int
    end: int = 0


class Filters(typing.TypedDict):
    query: str
    limit: typing.NotRequired[int]


@tool
def kitchen_sink(
    text: str,
    count: int,
    ratio: float,
    flag: bool,
    mode: Literal["fast", "slow"],
    color: Color,
    priority: Priority,
    maybe: str | None,
    optional_default: typing.Optional[int] = None,  # noqa: UP045 (the spelling is the test)
    words: list[str] = [],  # noqa: B006
    pair: tuple[int, str] = (1, "a"),
    many: tuple[float, ...] = (),
    scores: dict[str, int] = {},  # noqa: B006
    contact: Contact | None = None,
    span: Span | None = None,
    filters: Filters | None = None,
    described: Annotated[int, Field(description="A described number.", ge=0)] = 1,
) -> None:
    """Take every supported kind."""


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {key for value in node.values() for key in _keys(value)}
    if isinstance(node, list):
        return {key for value in node for key in _keys(value)}
    return set()


SCHEMA_TOOLS = [get_weather, set_timer, kitchen_sink]


class TestSchemas:
    @pytest.mark.parametrize("member", SCHEMA_TOOLS, ids=lambda m: m.name)
    def test_self_contained_and_draft7(self, member: Tool[..., Any]) -> None:
        parameters = member.schema["function"]["parameters"]
        assert not _keys(parameters) & {"$ref", "$defs", "definitions"}
        assert "$ref" not in json.dumps(member.schema)
        jsonschema.Draft7Validator.check_schema(parameters)
        assert parameters["type"] == "object"

    def test_mistral_common_accepts_them(self) -> None:
        messages = [{"role": "user", "content": "Set a timer for five minutes."}]
        tools = [m.schema for m in SCHEMA_TOOLS]
        request = ChatCompletionRequest.from_openai(messages, tools)
        assert request.tools is not None
        assert [t.function.name for t in request.tools] == [m.name for m in SCHEMA_TOOLS]

    def test_every_kind_of_parameter(self) -> None:
        props = kitchen_sink.parameters["properties"]
        assert props["text"]["type"] == "string"
        assert props["count"]["type"] == "integer"
        assert props["ratio"]["type"] == "number"
        assert props["flag"]["type"] == "boolean"
        assert props["mode"]["enum"] == ["fast", "slow"]
        assert props["color"]["enum"] == ["red", "green"]
        assert props["priority"]["enum"] == [1, 2]
        assert {"type": "null"} in props["maybe"]["anyOf"]
        assert props["words"]["type"] == "array" and props["words"]["items"] == {"type": "string"}
        assert props["pair"]["type"] == "array"
        assert props["many"]["items"] == {"type": "number"}
        assert props["scores"]["additionalProperties"] == {"type": "integer"}
        contact = next(s for s in props["contact"]["anyOf"] if s.get("type") == "object")
        assert contact["properties"]["address"]["properties"]["city"]["description"] == "The city."
        assert contact["properties"]["others"]["items"]["properties"]["street"] == {
            "type": "string"
        }
        span = next(s for s in props["span"]["anyOf"] if s.get("type") == "object")
        assert set(span["properties"]) == {"start", "end"}
        filters = next(s for s in props["filters"]["anyOf"] if s.get("type") == "object")
        assert set(filters["properties"]) == {"query", "limit"}
        assert filters["required"] == ["query"]
        assert props["described"]["description"] == "A described number."
        assert set(kitchen_sink.parameters["required"]) == {
            "text", "count", "ratio", "flag", "mode", "color", "priority", "maybe",
        }  # fmt: skip

    async def test_nested_values_reach_the_function_as_their_types(self) -> None:
        got: dict[str, Any] = {}

        @tool
        def store(contact: Contact, span: Span, color: Color, pair: tuple[int, str]) -> None:
            got.update(contact=contact, span=span, color=color, pair=pair)

        result = await Toolbox([store]).call(
            "store",
            {
                "contact": {"name": "Ada", "address": {"street": "Main", "city": "Oslo"}},
                "span": {"start": "3"},
                "color": "red",
                "pair": ["7", "x"],
            },
        )
        assert result.ok, result.content
        assert isinstance(got["contact"], Contact) and got["contact"].address.city == "Oslo"
        assert got["span"] == Span(3, 0)
        assert got["color"] is Color.RED
        assert got["pair"] == (7, "x")

    def test_numpy_docstring(self) -> None:
        @tool
        def convert(amount: float, currency: str) -> float:
            """Convert money.

            Parameters
            ----------
            amount : float
                How much money.
            currency : str
                ISO code of the target currency.
            """
            return amount

        props = convert.parameters["properties"]
        assert convert.description == "Convert money."
        assert props["amount"]["description"] == "How much money."
        assert props["currency"]["description"] == "ISO code of the target currency."

    def test_rest_docstring(self) -> None:
        @tool
        def convert(amount: float, currency: str) -> float:
            """Convert money.

            :param amount: How much money.
            :param currency: ISO code of the target currency.
            :returns: The converted amount.
            """
            return amount

        props = convert.parameters["properties"]
        assert convert.description == "Convert money."
        assert props["amount"]["description"] == "How much money."
        assert props["currency"]["description"] == "ISO code of the target currency."

    def test_annotated_field_description(self) -> None:
        @tool
        def search(query: Annotated[str, Field(description="What to look for.")]) -> str:
            return query

        assert search.parameters["properties"]["query"]["description"] == "What to look for."

    def test_context_is_not_in_the_schema(self) -> None:
        seen: list[ToolContext[Any]] = []

        @tool
        def whoami(greeting: str, ctx: ToolContext) -> str:  # type: ignore[type-arg]
            seen.append(ctx)
            return f"{greeting} {ctx.state['user']}"

        assert list(whoami.parameters["properties"]) == ["greeting"]
        assert "ctx" not in json.dumps(whoami.schema)
        box = Toolbox([whoami], state={"user": "Ada"})
        result = asyncio.run(box.call("whoami", {"greeting": "Hi"}, call_id="Qx7Kp2LmZ"))
        assert result.content == "Hi Ada"
        assert seen[0].call_id == "Qx7Kp2LmZ" and seen[0].state == {"user": "Ada"}
