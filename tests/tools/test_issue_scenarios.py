"""Issue 2 §2 read as a checker would: the public API exactly as the issue's sample uses it.

Every test here is written from the issue's text (its code sample and its rules), not from the
implementation; the other modules test the details.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import inspect
import json
import logging
import threading
import time
import typing
from typing import Annotated, Any, Literal

import jsonschema
import pytest
from mistral_common.protocol.instruct.request import ChatCompletionRequest
from pydantic import BaseModel, Field

from tools import Tool, Toolbox, ToolContext, ToolResult, tool

# -- the sample, verbatim apart from the bodies ------------------------------------


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:  # type: ignore[type-arg]
    """Get the current weather for a city.

    Args:
        city: City name, for example "Paris".
        unit: Temperature unit.
    """
    return {"city": city, "unit": unit, "temperature": 21}


@tool(name="set_timer", description="Start a kitchen timer.", timeout=10.0, requires_approval=True)
async def set_timer(minutes: int, label: str | None = None) -> str:
    await asyncio.sleep(0)
    return f"Timer set for {minutes} minutes" + (f" ({label})" if label else "")


def _undecorated_get_weather(
    city: str, unit: Literal["celsius", "fahrenheit"] = "celsius"
) -> dict[str, Any]:
    return {"city": city, "unit": unit, "temperature": 21}


asked: list[tuple[str, dict[str, Any]]] = []


def ask_user(name: str, arguments: dict[str, Any]) -> bool:
    asked.append((name, arguments))
    return True


@pytest.fixture
def box() -> Toolbox:
    asked.clear()
    return Toolbox([get_weather, set_timer], approve=ask_user)


def _failed(result: ToolResult) -> None:
    """What every failure has in common."""
    assert isinstance(result, ToolResult)
    assert result.ok is False
    assert result.value is None
    assert isinstance(result.content, str) and result.content
    assert result.error == result.content
    assert "Traceback" not in result.content
    assert len(result.content) < 600


class TestSample:
    def test_still_an_ordinary_callable(self) -> None:
        assert get_weather("Paris") == _undecorated_get_weather("Paris")
        assert get_weather("Oslo", unit="fahrenheit")["unit"] == "fahrenheit"
        assert asyncio.run(set_timer(5)) == "Timer set for 5 minutes"

    def test_keeps_the_function_metadata(self) -> None:
        assert isinstance(get_weather, Tool)
        assert get_weather.__name__ == "get_weather"
        assert get_weather.__doc__ is not None
        assert get_weather.__doc__.startswith("Get the current weather")
        assert list(inspect.signature(get_weather).parameters) == ["city", "unit"]
        assert list(inspect.signature(set_timer).parameters) == ["minutes", "label"]
        assert asyncio.iscoroutinefunction(set_timer)
        assert inspect.iscoroutinefunction(set_timer)
        assert not inspect.iscoroutinefunction(get_weather)

    def test_name_and_schema(self) -> None:
        assert get_weather.name == "get_weather"
        assert set_timer.name == "set_timer"
        assert get_weather.schema == {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the current weather for a city.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {
                            "type": "string",
                            "description": 'City name, for example "Paris".',
                        },
                        "unit": {
                            "type": "string",
                            "enum": ["celsius", "fahrenheit"],
                            "default": "celsius",
                            "description": "Temperature unit.",
                        },
                    },
                    "required": ["city"],
                },
            },
        }
        function = set_timer.schema["function"]
        assert function["name"] == "set_timer"
        assert function["description"] == "Start a kitchen timer."
        assert function["parameters"]["required"] == ["minutes"]
        assert function["parameters"]["properties"]["minutes"]["type"] == "integer"
        assert set_timer.timeout == 10.0
        assert set_timer.requires_approval is True
        assert get_weather.requires_approval is False

    def test_schemas_in_registration_order(self, box: Toolbox) -> None:
        assert box.schemas() == [get_weather.schema, set_timer.schema]
        assert [s["function"]["name"] for s in Toolbox([set_timer, get_weather]).schemas()] == [
            "set_timer",
            "get_weather",
        ]
        json.dumps(box.schemas())  # plain JSON data

    async def test_call_with_json_text(self, box: Toolbox) -> None:
        result = await box.call("get_weather", '{"city": "Paris"}', call_id="Qx7Kp2LmZ")
        assert result.ok is True
        assert result.value == {"city": "Paris", "unit": "celsius", "temperature": 21}
        assert json.loads(result.content) == result.value
        assert result.error is None
        assert result.name == "get_weather"
        assert result.arguments == {"city": "Paris"}
        assert result.call_id == "Qx7Kp2LmZ"

    def test_call_id_may_be_positional(self, box: Toolbox) -> None:
        result = asyncio.run(box.call("get_weather", {"city": "Oslo"}, "Qx7Kp2LmZ"))
        assert result.ok and result.call_id == "Qx7Kp2LmZ"
        assert box.call_sync("get_weather", {"city": "Oslo"}, "abcdefghi").call_id == "abcdefghi"

    async def test_call_with_a_dict(self, box: Toolbox) -> None:
        result = await box.call("get_weather", {"city": "Paris", "unit": "fahrenheit"})
        assert result.ok
        assert result.value["unit"] == "fahrenheit"
        assert result.arguments == {"city": "Paris", "unit": "fahrenheit"}
        assert result.call_id == ""

    async def test_approved_async_tool(self, box: Toolbox) -> None:
        result = await box.call(
            "set_timer", '{"minutes": 5, "label": "pasta"}', call_id="abcdefghi"
        )
        assert result.ok
        assert result.content == "Timer set for 5 minutes (pasta)"
        assert asked == [("set_timer", {"minutes": 5, "label": "pasta"})]

    async def test_the_approver_is_not_asked_for_other_tools(self, box: Toolbox) -> None:
        assert (await box.call("get_weather", {"city": "Paris"})).ok
        assert asked == []


class TestFailuresNeverRaise:
    async def test_unknown_tool_lists_the_available_names(self, box: Toolbox) -> None:
        result = await box.call("get_time", "{}", call_id="Qx7Kp2LmZ")
        _failed(result)
        assert "get_time" in result.content
        assert "get_weather" in result.content and "set_timer" in result.content
        assert result.name == "get_time"
        assert result.call_id == "Qx7Kp2LmZ"
        assert result.arguments == {}

    async def test_a_name_in_another_case_still_finds_the_tool(self, box: Toolbox) -> None:
        result = await box.call("Get_Weather", {"city": "Paris"})
        assert result.ok
        assert result.name == "get_weather"

    async def test_arguments_not_json(self, box: Toolbox) -> None:
        result = await box.call("get_weather", '{"city": "Paris"', call_id="Qx7Kp2LmZ")
        _failed(result)
        assert "JSON" in result.content
        assert result.arguments == {}
        assert result.call_id == "Qx7Kp2LmZ"
        assert result.name == "get_weather"

    @pytest.mark.parametrize("arguments", ['["Paris"]', '"Paris"', "42", "true", "null"])
    async def test_arguments_not_an_object(self, box: Toolbox, arguments: str) -> None:
        result = await box.call("get_weather", arguments, call_id="Qx7Kp2LmZ")
        _failed(result)
        assert "object" in result.content
        assert result.arguments == {}

    async def test_missing_argument(self, box: Toolbox) -> None:
        result = await box.call("get_weather", "{}")
        _failed(result)
        assert "city" in result.content
        assert "required" in result.content or "missing" in result.content.lower()

    async def test_validation_names_the_field_and_what_was_expected(self, box: Toolbox) -> None:
        result = await box.call("get_weather", {"city": "Paris", "unit": "kelvin"})
        _failed(result)
        assert "unit" in result.content
        assert "celsius" in result.content and "fahrenheit" in result.content
        assert result.arguments == {"city": "Paris", "unit": "kelvin"}

    async def test_wrong_type(self, box: Toolbox) -> None:
        result = await box.call("set_timer", {"minutes": "five"})
        _failed(result)
        assert "minutes" in result.content and "integer" in result.content
        assert asked == []  # nothing invalid is put to the user

    async def test_lax_coercion(self, box: Toolbox) -> None:
        result = await box.call("set_timer", '{"minutes": "5"}')
        assert result.ok
        assert result.content == "Timer set for 5 minutes"
        assert result.arguments == {"minutes": "5"}  # what the model sent

    async def test_tool_raising(self, caplog: pytest.LogCaptureFixture) -> None:
        @tool
        def flaky(city: str) -> str:
            raise ValueError(f"no station near {city}")

        with caplog.at_level(logging.DEBUG):
            result = await Toolbox([flaky]).call("flaky", {"city": "Paris"}, call_id="abcdefghi")
        _failed(result)
        assert "ValueError" in result.content and "no station near Paris" in result.content
        assert result.call_id == "abcdefghi" and result.arguments == {"city": "Paris"}
        assert any(record.exc_info for record in caplog.records)  # the traceback is logged

    async def test_async_tool_raising(self) -> None:
        @tool
        async def flaky() -> str:
            raise RuntimeError("service down")

        result = await Toolbox([flaky]).call("flaky", None)
        _failed(result)
        assert "RuntimeError" in result.content and "service down" in result.content

    @pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, GeneratorExit])
    async def test_a_sync_tool_raising_a_base_exception(self, error: type[BaseException]) -> None:
        @tool
        def rude() -> str:
            raise error("stop")

        result = await Toolbox([rude]).call("rude", None)
        _failed(result)
        assert error.__name__ in result.content

    async def test_timeout_per_tool(self) -> None:
        @tool(timeout=0.1)
        async def slow() -> str:
            await asyncio.sleep(5)
            return "late"

        started = time.perf_counter()
        result = await Toolbox([slow]).call("slow", None, call_id="abcdefghi")
        assert time.perf_counter() - started < 2
        _failed(result)
        assert "timed out" in result.content
        assert result.call_id == "abcdefghi"

    async def test_timeout_of_a_sync_tool(self) -> None:
        release = threading.Event()

        @tool(timeout=0.1)
        def stuck() -> str:
            release.wait(5)
            return "late"

        started = time.perf_counter()
        try:
            result = await Toolbox([stuck]).call("stuck", None)
        finally:
            release.set()
        assert time.perf_counter() - started < 2
        _failed(result)
        assert "timed out" in result.content

    def test_default_timeout_is_30_seconds(self) -> None:
        assert Toolbox().default_timeout == 30
        assert get_weather.timeout is None  # the box's default applies

    async def test_the_box_default_applies_to_tools_without_their_own(self) -> None:
        @tool
        async def slow() -> str:
            await asyncio.sleep(5)
            return "late"

        result = await Toolbox([slow, set_timer], default_timeout=0.1).call("slow", None)
        _failed(result)
        assert "timed out" in result.content

    async def test_approval_refused(self) -> None:
        ran: list[int] = []

        @tool(requires_approval=True)
        def delete_all_notes() -> str:
            ran.append(1)
            return "deleted"

        box = Toolbox([delete_all_notes], approve=lambda name, arguments: False)
        result = await box.call("delete_all_notes", None, call_id="abcdefghi")
        _failed(result)
        assert "approv" in result.content.lower()
        assert ran == []

    async def test_async_approver(self) -> None:
        seen: list[tuple[str, dict[str, Any]]] = []

        async def approve(name: str, arguments: dict[str, Any]) -> bool:
            await asyncio.sleep(0)
            seen.append((name, arguments))
            return arguments["minutes"] < 60

        box = Toolbox([set_timer], approve=approve)
        assert (await box.call("set_timer", {"minutes": 5})).ok
        _failed(await box.call("set_timer", {"minutes": 90}))
        assert seen == [("set_timer", {"minutes": 5}), ("set_timer", {"minutes": 90})]

    async def test_approval_required_but_no_approver(self) -> None:
        result = await Toolbox([set_timer]).call("set_timer", {"minutes": 5})
        _failed(result)
        assert "approv" in result.content.lower()

    async def test_approver_raising_refuses(self) -> None:
        def approve(name: str, arguments: dict[str, Any]) -> bool:
            raise OSError("no terminal")

        _failed(await Toolbox([set_timer], approve=approve).call("set_timer", {"minutes": 5}))


class TestConcurrency:
    async def test_sync_tools_run_in_a_worker_thread(self) -> None:
        @tool
        def which_thread() -> int:
            return threading.get_ident()

        result = await Toolbox([which_thread]).call("which_thread", None)
        assert result.ok and result.value != threading.get_ident()

    async def test_the_loop_keeps_ticking_while_a_sync_tool_sleeps(self) -> None:
        @tool
        def nap() -> str:
            time.sleep(0.3)
            return "rested"

        ticks: list[float] = []

        async def tick() -> None:
            while True:
                ticks.append(time.perf_counter())
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        result = await Toolbox([nap]).call("nap", None)
        ticker.cancel()
        assert result.ok
        assert len(ticks) >= 10

    async def test_several_calls_run_together_and_keep_their_order(self) -> None:
        @tool
        def slow_echo(text: str, seconds: float) -> str:
            time.sleep(seconds)
            return text

        @tool
        async def async_echo(text: str, seconds: float) -> str:
            await asyncio.sleep(seconds)
            return text

        box = Toolbox([slow_echo, async_echo])
        started = time.perf_counter()
        results = await asyncio.gather(
            box.call("slow_echo", {"text": "a", "seconds": 0.3}, call_id="aaaaaaaaa"),
            box.call("async_echo", {"text": "b", "seconds": 0.1}, call_id="bbbbbbbbb"),
            box.call("slow_echo", {"text": "c", "seconds": 0.2}, call_id="ccccccccc"),
            box.call("async_echo", {"text": "d", "seconds": 0.3}, call_id="ddddddddd"),
        )
        assert time.perf_counter() - started < 0.75
        assert [r.content for r in results] == ["a", "b", "c", "d"]
        assert [r.call_id for r in results] == ["aaaaaaaaa", "bbbbbbbbb", "ccccccccc", "ddddddddd"]

        many = await box.call_many(
            [
                ("slow_echo", {"text": "x", "seconds": 0.2}),
                ("async_echo", '{"text": "y", "seconds": 0}'),
            ]
        )
        assert [r.content for r in many] == ["x", "y"]


class TestDecorationErrors:
    def test_missing_annotation(self) -> None:
        def lookup(city, unit: str = "c") -> str:  # type: ignore[no-untyped-def]
            return city  # type: ignore[no-any-return]

        with pytest.raises(TypeError) as caught:
            tool(lookup)
        assert "lookup" in str(caught.value) and "city" in str(caught.value)

    @pytest.mark.parametrize("star", ["args", "kwargs"])
    def test_star_parameters(self, star: str) -> None:
        def spread(city: str, *args: str) -> str:
            return city

        def gather(city: str, **kwargs: str) -> str:
            return city

        with pytest.raises(TypeError) as caught:
            tool(spread if star == "args" else gather)
        message = str(caught.value)
        assert ("spread" if star == "args" else "gather") in message and star in message

    def test_unsupported_type(self) -> None:
        class Socket:
            pass

        def connect(city: str, sock: Socket) -> str:
            return city

        with pytest.raises(TypeError) as caught:
            tool(connect)
        assert "connect" in str(caught.value) and "sock" in str(caught.value)

    @pytest.mark.parametrize("name", ["get.weather", "get weather", "", "x" * 65, "météo"])
    def test_invalid_name(self, name: str) -> None:
        with pytest.raises(ValueError) as caught:
            tool(name=name)(_undecorated_get_weather)
        assert "name" in str(caught.value)

    def test_duplicate_names_at_toolbox_construction(self) -> None:
        @tool(name="get_weather")
        def other_weather(city: str) -> str:
            return city

        with pytest.raises(ValueError) as caught:
            Toolbox([get_weather, other_weather])
        assert "get_weather" in str(caught.value)

    def test_the_same_function_twice(self) -> None:
        with pytest.raises(ValueError):
            Toolbox([get_weather, get_weather])

    def test_empty_toolbox(self) -> None:
        box = Toolbox([])
        assert box.schemas() == []
        result = asyncio.run(box.call("anything", "{}"))
        _failed(result)


# -- schemas -------------------------------------------------------------------------------


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


# -- return values -------------------------------------------------------------------------


class Weather(BaseModel):
    city: str
    temperature: float


@dataclasses.dataclass
class Reading:
    sensor: str
    value: int


class Opaque:
    def __str__(self) -> str:
        return "an opaque thing"


def _returning(value: Any) -> Tool[..., Any]:
    return tool(name="give")(functools.partial(lambda v: v, value))


class TestContent:
    @pytest.mark.parametrize(
        ("value", "content"),
        [
            ("It is sunny.", "It is sunny."),
            (Weather(city="Paris", temperature=21.5), '{"city":"Paris","temperature":21.5}'),
            (Reading("hall", 3), '{"sensor":"hall","value":3}'),
            ({"a": 1, "b": [1, 2]}, '{"a":1,"b":[1,2]}'),
            ([1, "two", None], '[1,"two",null]'),
            (42, "42"),
            (2.5, "2.5"),
            (Opaque(), "an opaque thing"),
        ],
    )
    async def test_values_become_text(self, value: Any, content: str) -> None:
        result = await Toolbox([_returning(value)]).call("give", None)
        assert result.ok
        assert result.content == content
        assert result.value is value

    async def test_none_is_a_short_confirmation(self) -> None:
        result = await Toolbox([_returning(None)]).call("give", None)
        assert result.ok and result.value is None
        assert 0 < len(result.content) < 40

    async def test_over_long_results_are_cut_with_a_marker(self) -> None:
        long = "word " * 10_000
        result = await Toolbox([_returning(long)], max_result_chars=500).call("give", None)
        assert result.ok
        assert len(result.content) <= 500
        assert "truncated" in result.content
        assert result.value == long
        default = await Toolbox([_returning(long)]).call("give", None)
        assert "truncated" in default.content and len(default.content) < len(long)


# -- methods -------------------------------------------------------------------------------


class Home:
    def __init__(self) -> None:
        self.lights: dict[str, bool] = {}

    @tool
    def switch_on(self, room: str) -> str:
        """Switch the lights on in a room."""
        self.lights[room] = True
        return f"{room} is lit"


class TestMethods:
    def test_the_schema_leaves_self_out(self) -> None:
        assert list(Home.switch_on.parameters["properties"]) == ["room"]
        assert Home.switch_on.name == "switch_on"

    async def test_a_decorated_method_works_from_an_instance(self) -> None:
        home = Home()
        assert home.switch_on("hall") == "hall is lit"
        box = Toolbox([home.switch_on])
        result = await box.call("switch_on", {"room": "kitchen"})
        assert result.ok, result.content
        assert home.lights == {"hall": True, "kitchen": True}

    def test_the_unbound_method_is_refused_by_the_box(self) -> None:
        with pytest.raises(TypeError, match="switch_on"):
            Toolbox([Home.switch_on])
