"""`tool` and `Tool`: decoration, the callable, names, descriptions, schemas, decoration errors."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import inspect
import typing
from typing import Annotated, Any

import jsonschema
import pytest
from mistral_common.protocol.instruct.request import ChatCompletionRequest
from mistral_common.protocol.instruct.validator import ValidationMode, get_validator
from mistral_common.tokens.tokenizers.base import TokenizerVersion
from pydantic import BaseModel, Field

from tests.tools.samples import get_weather, set_timer, undecorated_get_weather
from tools import Tool, Toolbox, ToolContext, tool


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str = Field(description="City name.")


class Order(BaseModel):
    items: list[Address]
    billing: Address | None = None


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


class Options(typing.TypedDict, total=False):
    verbose: bool
    depth: int


class Tree(BaseModel):
    children: list[Tree] = []


class Opaque:
    """A class pydantic has no schema for."""


@tool
def everything(
    pair: tuple[int, str],
    numbers: tuple[int, ...],
    scores: dict[str, float],
    unit: Unit,
    address: Address,
    order: Order,
    point: Point,
    options: Options,
    tags: list[str] | None = None,
    count: Annotated[int, Field(ge=1, description="How many.")] = 3,
    flag: bool = False,
    ratio: float = 0.5,
) -> None:
    """Take every supported kind of parameter."""


ALL_TOOLS = [get_weather, set_timer, everything]


def _walk(schema: Any) -> typing.Iterator[tuple[str, Any]]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _walk(value)


GET_WEATHER_SCHEMA = {
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
"""The sample's schema, exactly as the issue gives it."""


class TestCallable:
    def test_sync_tool_is_still_the_function(self) -> None:
        assert get_weather("Paris") == {"city": "Paris", "unit": "celsius", "temperature": 21}
        assert get_weather(city="Oslo", unit="fahrenheit")["unit"] == "fahrenheit"

    async def test_async_tool_returns_a_coroutine(self) -> None:
        pending = set_timer(5, label="tea")
        assert inspect.iscoroutine(pending)
        assert await pending == "Timer set for 5 minutes (tea)"

    def test_keeps_the_function_identity(self) -> None:
        assert isinstance(get_weather, Tool)
        assert get_weather.__name__ == "get_weather"
        assert get_weather.__doc__ is not None and "weather" in get_weather.__doc__
        assert get_weather.__wrapped__ is get_weather.function
        assert get_weather.is_async is False
        assert set_timer.is_async is True

    def test_inspect_sees_the_function(self) -> None:
        assert inspect.iscoroutinefunction(set_timer)
        assert asyncio.iscoroutinefunction(set_timer)
        assert not inspect.iscoroutinefunction(get_weather)
        assert inspect.signature(set_timer) == inspect.signature(set_timer.function)

    def test_plain_call_form(self) -> None:
        def shout(text: str) -> str:
            return text.upper()

        made = tool(shout)
        assert isinstance(made, Tool)
        assert made("hi") == "HI"
        assert tool(made) is made  # already a tool: unchanged

    def test_options_on_an_existing_tool_make_a_new_one(self) -> None:
        renamed = tool(name="weather_now")(get_weather)
        assert renamed.name == "weather_now"
        assert renamed.description == get_weather.description
        assert renamed.function is get_weather.function

    def test_bound_method_and_partial(self) -> None:
        class Greeter:
            def greet(self, who: str) -> str:
                """Say hello."""
                return f"hello {who}"

        method_tool = tool(Greeter().greet)
        assert method_tool.name == "greet"
        assert list(method_tool.parameters["properties"]) == ["who"]

        def power(base: int, exponent: int) -> int:
            """Raise base to exponent."""
            return int(base**exponent)

        square = tool(name="square")(functools.partial(power, exponent=2))
        assert square.description == "Raise base to exponent."
        assert square(base=3) == 9


class TestIssueSample:
    """The issue's sample tools, as the issue describes them."""

    def test_still_an_ordinary_callable(self) -> None:
        assert get_weather("Paris") == undecorated_get_weather("Paris")
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
        assert get_weather.schema == GET_WEATHER_SCHEMA
        function = set_timer.schema["function"]
        assert function["name"] == "set_timer"
        assert function["description"] == "Start a kitchen timer."
        assert function["parameters"]["required"] == ["minutes"]
        assert function["parameters"]["properties"]["minutes"]["type"] == "integer"
        assert set_timer.timeout == 10.0
        assert set_timer.requires_approval is True
        assert get_weather.requires_approval is False


class Thermostat:
    """Methods decorated in the class body."""

    def __init__(self) -> None:
        self.target = 20.0

    @tool
    def set_target(self, degrees: float) -> str:
        """Set the target temperature.

        Args:
            degrees: Degrees Celsius.
        """
        self.target = degrees
        return f"target {degrees:g}"

    @tool(name="read_target", timeout=2)
    async def current(self) -> float:
        """Read the target temperature."""
        await asyncio.sleep(0)
        return self.target


class TestMethods:
    def test_read_from_the_class_it_describes_the_method_without_self(self) -> None:
        unbound = Thermostat.set_target
        assert unbound.needs_instance
        assert unbound.parameters["properties"] == {
            "degrees": {"type": "number", "description": "Degrees Celsius."}
        }
        assert Thermostat.current.name == "read_target"

    async def test_read_from_an_instance_it_is_bound(self) -> None:
        home = Thermostat()
        bound = home.set_target
        assert isinstance(bound, Tool)
        assert not bound.needs_instance
        assert bound.schema == Thermostat.set_target.schema
        assert list(inspect.signature(bound).parameters) == ["degrees"]
        assert bound(18) == "target 18" and home.target == 18
        reader = home.current
        assert reader.is_async and reader.timeout == 2
        assert await reader() == 18
        assert Thermostat.set_target(home, 19) == "target 19"  # the plain method call

    async def test_a_toolbox_runs_it_on_its_instance(self) -> None:
        home = Thermostat()
        box = Toolbox([home.set_target, home.current])
        assert home.set_target in box
        assert (await box.call("set_target", '{"degrees": "21.5"}')).ok
        assert (await box.call("read_target", None)).value == 21.5
        assert Thermostat().target == 20.0  # other instances untouched


class TestMetadata:
    def test_name_description_and_options(self) -> None:
        assert get_weather.name == "get_weather"
        assert get_weather.description == "Get the current weather for a city."
        assert get_weather.timeout is None
        assert get_weather.requires_approval is False
        assert set_timer.name == "set_timer"
        assert set_timer.description == "Start a kitchen timer."
        assert set_timer.timeout == 10.0
        assert set_timer.requires_approval is True

    def test_schema_shape(self) -> None:
        assert get_weather.schema == GET_WEATHER_SCHEMA
        assert get_weather.parameters == get_weather.schema["function"]["parameters"]

    def test_schema_is_a_copy(self) -> None:
        get_weather.schema["function"]["parameters"]["properties"].clear()
        assert "city" in get_weather.parameters["properties"]

    def test_no_parameters(self) -> None:
        @tool
        def now() -> str:
            """The time."""
            return "noon"

        assert now.parameters == {"type": "object", "properties": {}}

    def test_no_docstring_gives_empty_description(self) -> None:
        @tool
        def bare(x: int) -> int:
            return x

        assert bare.description == ""

    def test_long_description_kept_sections_dropped(self) -> None:
        @tool
        def lookup(term: str) -> str:
            """Look a word up.

            Use it for definitions only.

            Args:
                term: The word.

            Returns:
                The definition.
            """
            return term

        assert lookup.description == "Look a word up.\n\nUse it for definitions only."

    @pytest.mark.parametrize(
        "docstring",
        [
            """Find.\n\nArgs:\n    term: What to find.\n    limit: Most results.\n""",
            """Find.\n\nParameters\n----------\nterm : str\n    What to find.\nlimit : int\n"""
            """    Most results.\n""",
            """Find.\n\n:param term: What to find.\n:param limit: Most results.\n""",
        ],
        ids=["google", "numpy", "rest"],
    )
    def test_docstring_styles(self, docstring: str) -> None:
        def find(term: str, limit: int = 5) -> list[str]:
            return []

        find.__doc__ = docstring
        properties = tool(find).parameters["properties"]
        assert tool(find).description == "Find."
        assert properties["term"]["description"] == "What to find."
        assert properties["limit"]["description"] == "Most results."

    def test_field_description_wins_over_docstring(self) -> None:
        @tool
        def scale(factor: Annotated[float, Field(description="From Field.", gt=0)]) -> float:
            """Scale.

            Args:
                factor: From the docstring.
            """
            return factor

        assert scale.parameters["properties"]["factor"] == {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "From Field.",
        }

    def test_context_parameter_is_hidden(self) -> None:
        @tool
        def remember(ctx: ToolContext[dict[str, str]], key: str, value: str) -> None:
            ctx.state[key] = value

        assert remember.wants_context
        assert list(remember.parameters["properties"]) == ["key", "value"]
        assert remember.parameters["required"] == ["key", "value"]

    def test_optional_or_annotated_context_is_hidden_too(self) -> None:
        @tool
        def f(
            a: int,
            ctx: ToolContext[None] | None = None,
            other: Annotated[ToolContext[None], "x"] | None = None,
        ) -> None: ...

        assert list(f.parameters["properties"]) == ["a"]

    def test_awkward_parameter_names_are_kept(self) -> None:
        @tool
        def odd(json: str, schema: int, _private: bool, model_config: str) -> None: ...

        assert list(odd.parameters["properties"]) == ["json", "schema", "_private", "model_config"]


class TestSupportedTypes:
    def test_every_supported_kind(self) -> None:
        props = everything.parameters["properties"]
        assert props["pair"] == {
            "type": "array",
            "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "minItems": 2,
            "maxItems": 2,
        }
        assert props["numbers"] == {"type": "array", "items": {"type": "integer"}}
        assert props["scores"] == {"type": "object", "additionalProperties": {"type": "number"}}
        assert props["unit"] == {"type": "string", "enum": ["celsius", "fahrenheit"]}
        assert props["address"]["properties"]["city"] == {
            "type": "string",
            "description": "City name.",
        }
        assert props["address"]["required"] == ["street", "city"]
        assert props["order"]["properties"]["items"]["items"]["properties"]["street"] == {
            "type": "string"
        }
        assert props["point"]["properties"]["y"] == {"type": "number", "default": 0.0}
        assert props["options"]["properties"] == {
            "verbose": {"type": "boolean"},
            "depth": {"type": "integer"},
        }
        assert "required" not in props["options"]
        assert props["tags"]["anyOf"] == [
            {"type": "array", "items": {"type": "string"}},
            {"type": "null"},
        ]
        assert props["count"] == {
            "type": "integer",
            "minimum": 1,
            "default": 3,
            "description": "How many.",
        }
        assert everything.parameters["required"] == [
            "pair", "numbers", "scores", "unit", "address", "order", "point", "options",
        ]  # fmt: skip

    @pytest.mark.parametrize("member", ALL_TOOLS, ids=lambda t: t.name)
    def test_no_references_titles_or_2020_keywords(self, member: Tool[..., Any]) -> None:
        keys = {key for key, _ in _walk(member.parameters)}
        assert not keys & {"$ref", "$defs", "definitions", "prefixItems", "title"}

    @pytest.mark.parametrize("member", ALL_TOOLS, ids=lambda t: t.name)
    def test_schema_is_valid_draft7(self, member: Tool[..., Any]) -> None:
        jsonschema.Draft7Validator.check_schema(member.parameters)
        assert member.schema["function"]["name"] == member.name

    def test_draft7_validator_accepts_what_the_tool_accepts(self) -> None:
        arguments = {
            "pair": [1, "a"],
            "numbers": [1, 2],
            "scores": {"x": 1.5},
            "unit": "celsius",
            "address": {"street": "Main", "city": "Oslo"},
            "order": {"items": [{"street": "A", "city": "B"}]},
            "point": {"x": 1},
            "options": {"verbose": True},
        }
        jsonschema.Draft7Validator(everything.parameters).validate(arguments)
        everything.bind(arguments)

    def test_mistral_common_accepts_the_schemas(self) -> None:
        messages = [{"role": "user", "content": "What's the weather in Paris?"}]
        request = ChatCompletionRequest.from_openai(messages, [m.schema for m in ALL_TOOLS])
        assert request.tools is not None
        assert [t.function.name for t in request.tools] == [m.name for m in ALL_TOOLS]
        validator = get_validator(TokenizerVersion.v7, ValidationMode.test)
        validator.validate_messages(request.messages)


class TestDecorationErrors:
    def test_missing_annotation(self) -> None:
        def bad(city, unit: str) -> str:  # type: ignore[no-untyped-def]
            return ""

        with pytest.raises(TypeError, match=r"tool 'bad'.*parameter 'city'.*no type annotation"):
            tool(bad)

    def test_unannotated_self_outside_a_class_hints_at_bound_methods(self) -> None:
        def switch(self, on: bool) -> None: ...  # type: ignore[no-untyped-def]

        with pytest.raises(TypeError, match=r"'self'.*bound method"):
            tool(switch)

    def test_a_method_read_from_its_class_needs_an_instance(self) -> None:
        class Lamp:
            def switch(self, on: bool) -> None: ...

        unbound = tool(Lamp.switch)
        assert unbound.needs_instance
        with pytest.raises(TypeError, match=r"'switch' is a method.*instance"):
            Toolbox([unbound])

    @pytest.mark.parametrize("source", ["def bad(*names: str): ...", "def bad(**extra: int): ..."])
    def test_star_parameters(self, source: str) -> None:
        namespace: dict[str, Any] = {}
        exec(source, namespace)
        with pytest.raises(TypeError, match=r"tool 'bad'.*parameter '\*{1,2}\w+' is not allowed"):
            tool(namespace["bad"])

    def test_unsupported_type(self) -> None:
        def bad(city: str, thing: Opaque) -> None: ...

        with pytest.raises(TypeError, match=r"tool 'bad'.*parameter 'thing'.*Opaque.*no JSON"):
            tool(bad)

    def test_recursive_type(self) -> None:
        def bad(tree: Tree) -> None: ...

        with pytest.raises(TypeError, match=r"tool 'bad'.*parameter 'tree'.*recursive.*Tree"):
            tool(bad)

    @pytest.mark.parametrize("name", ["my.tool", "has space", "", "x" * 65, "émoji", "name\n"])
    def test_invalid_name(self, name: str) -> None:
        with pytest.raises(ValueError, match=r"invalid tool name .* for function 'get_weather'"):
            tool(name=name)(get_weather.function)

    def test_errors_name_the_function_behind_a_custom_name(self) -> None:
        def lookup(term) -> str:  # type: ignore[no-untyped-def]
            return ""

        with pytest.raises(TypeError, match=r"tool 'find' \(function 'lookup'\).*'term'"):
            tool(name="find")(lookup)

    def test_lambda_needs_a_name(self) -> None:
        with pytest.raises(ValueError, match=r"'<lambda>'.*name="):
            tool(lambda: None)
        assert tool(name="noop")(lambda: None).name == "noop"

    def test_longest_valid_name(self) -> None:
        assert tool(name="a-" * 32)(get_weather.function).name == "a-" * 32

    @pytest.mark.parametrize("timeout", [0, -1.0])
    def test_bad_timeout(self, timeout: float) -> None:
        with pytest.raises(ValueError, match="timeout"):
            tool(timeout=timeout)(get_weather.function)

    def test_not_callable(self) -> None:
        with pytest.raises(TypeError, match="needs a function"):
            tool(42)  # type: ignore[call-overload]

    def test_unresolvable_annotation(self) -> None:
        def bad(x: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821

        with pytest.raises(TypeError, match=r"tool 'bad'.*cannot resolve"):
            tool(bad)


class TestIssueDecorationErrors:
    """Decoration errors as the issue states them: each names the function and parameter."""

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
            tool(name=name)(undecorated_get_weather)
        assert "name" in str(caught.value)


class TestFieldDefaults:
    def test_field_as_default(self) -> None:
        @tool
        def search(
            query: str,
            limit: int = Field(5, ge=1, description="Most results."),
            exact: bool = Field(description="Match exactly."),
        ) -> str:
            return f"{query} {limit} {exact}"

        props = search.parameters["properties"]
        assert props["limit"] == {
            "type": "integer",
            "minimum": 1,
            "default": 5,
            "description": "Most results.",
        }
        assert props["exact"] == {"type": "boolean", "description": "Match exactly."}
        assert search.parameters["required"] == ["query", "exact"]
        args, kwargs = search.bind({"query": "tea", "exact": "true"})
        assert search(*args, **kwargs) == "tea 5 True"  # the value, not the FieldInfo


class TestBind:
    def test_lax_coercion(self) -> None:
        args, kwargs = set_timer.bind({"minutes": "5", "label": 7})
        assert args == []
        assert kwargs == {"minutes": 5, "label": "7"}

    def test_defaults_left_to_the_function(self) -> None:
        _, kwargs = get_weather.bind({"city": "Paris"})
        assert kwargs == {"city": "Paris"}

    def test_nested_values_become_their_types(self) -> None:
        _, kwargs = everything.bind(
            {
                "pair": ["1", "a"],
                "numbers": [],
                "scores": {},
                "unit": "fahrenheit",
                "address": {"street": "s", "city": "c"},
                "order": {"items": []},
                "point": {"x": "2.5"},
                "options": {"depth": "2"},
            }
        )
        assert kwargs["pair"] == (1, "a")
        assert kwargs["unit"] is Unit.FAHRENHEIT
        assert kwargs["address"] == Address(street="s", city="c")
        assert kwargs["point"] == Point(x=2.5)
        assert kwargs["options"] == {"depth": 2}

    def test_positional_only_and_context(self) -> None:
        def f(a: int, /, ctx: ToolContext[None], *, b: int = 2) -> int:
            return a + b

        made = tool(f)
        context = ToolContext(call_id="abc123XYZ", tool_name="f", state=None)
        args, kwargs = made.bind({"a": "1"}, context)
        assert args == [1]
        assert kwargs == {"ctx": context}
        assert made(*args, **kwargs) == 3


def test_async_callable_object() -> None:
    class Fetcher:
        """Fetch a page."""

        async def __call__(self, url: str) -> str:
            await asyncio.sleep(0)
            return url

    made = tool(name="fetch")(Fetcher())
    assert made.is_async
    assert made.description == "Fetch a page."
    assert list(made.parameters["properties"]) == ["url"]


class Home:
    def __init__(self) -> None:
        self.lights: dict[str, bool] = {}

    @tool
    def switch_on(self, room: str) -> str:
        """Switch the lights on in a room."""
        self.lights[room] = True
        return f"{room} is lit"


class TestMethodsAsTheIssueSays:
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
