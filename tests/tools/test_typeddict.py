"""`portable_annotation`: `typing.TypedDict` works as a tool parameter on Python 3.11."""

from __future__ import annotations

import sys
import typing

from pydantic import TypeAdapter

from tools._typeddict import portable_annotation


class Location(typing.TypedDict):
    """Where something is."""

    city: str
    country: typing.NotRequired[str]


class Trip(typing.TypedDict, total=False):
    stops: list[Location]
    start: typing.Required[Location]


def test_nested_typeddicts_validate_and_keep_required_keys() -> None:
    adapter = TypeAdapter(portable_annotation(list[Trip | None]))
    value = adapter.validate_python([{"start": {"city": "Oslo"}, "stops": [{"city": "Rome"}]}])
    assert value == [{"start": {"city": "Oslo"}, "stops": [{"city": "Rome"}]}]
    definitions = adapter.json_schema()["$defs"]
    assert definitions["Trip"]["required"] == ["start"]
    assert definitions["Location"]["required"] == ["city"]
    assert definitions["Location"]["description"] == "Where something is."


def test_same_replacement_each_time() -> None:
    assert portable_annotation(Location) is portable_annotation(Location)


def test_other_annotations_are_untouched() -> None:
    annotation = dict[str, list[int]] | None
    assert portable_annotation(annotation) is annotation
    literal = typing.Literal["a", "b"]
    assert portable_annotation(literal) is literal
    if sys.version_info >= (3, 12):
        assert portable_annotation(Trip) is Trip
