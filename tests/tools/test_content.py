"""Text for the model: rendering values, truncating, summarising validation errors."""

from __future__ import annotations

import datetime
import enum

import pytest
from pydantic import BaseModel, ValidationError

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
