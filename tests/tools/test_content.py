"""Text for the model: rendering values, truncating, summarising validation errors."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from tools import Tool, Toolbox, tool
from tools._content import DONE, describe_validation_error, render_value, truncate


class Mood(enum.Enum):
    HAPPY = "happy"


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("as is", "as is"),
        (None, DONE),
        (3, "3"),
        (True, "true"),
        ({"a": [1, 2.5]}, '{"a":[1,2.5]}'),
        ((1, 2), "[1,2]"),
        (Mood.HAPPY, '"happy"'),
        (datetime.date(2026, 11, 28), '"2026-11-28"'),
    ],
)
def test_render_value(value: object, text: str) -> None:
    assert render_value(value) == text


def test_render_unserialisable_falls_back_to_text() -> None:
    class Custom:
        def __str__(self) -> str:
            return "custom thing"

    assert render_value(Custom()) == "custom thing"  # its text, not a JSON string of it
    assert render_value({"x": Custom()}) == '{"x":"custom thing"}'
    assert render_value([Custom()]) == '["custom thing"]'
    assert render_value(Unprintable()) == "<Unprintable object>"


@pytest.mark.parametrize("limit", [30, 100, 1000, 4000])
def test_truncate_respects_the_limit(limit: int) -> None:
    text = "a" * 5000
    cut = truncate(text, limit)
    assert len(cut) <= limit
    kept = cut.index("... [truncated")
    assert cut == "a" * kept + f"... [truncated {5000 - kept} chars]"


def test_truncate_leaves_short_text() -> None:
    assert truncate("short", 5) == "short"


def test_describe_validation_error() -> None:
    class Booking(BaseModel):
        guests: int
        name: str
        nights: int
        room: str
        breakfast: bool

    with pytest.raises(ValidationError) as caught:
        Booking.model_validate({"guests": "many " * 40, "breakfast": "perhaps"})
    summary = describe_validation_error(caught.value)
    assert summary.startswith("guests: input should be a valid integer")
    assert "got 'many many" in summary and "...'" not in summary and "..." in summary
    assert "name: missing (required)" in summary
    assert summary.endswith("and 1 more")


# -- what the toolbox sends for a returned value (as the issue states it) ---------------


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
