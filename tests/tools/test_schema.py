"""`self_contained_draft7`: inlining references, dropping titles, draft-7 tuples."""

from __future__ import annotations

import datetime
import pathlib
import uuid
from typing import Annotated, Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field, TypeAdapter

from tools._schema import RecursiveSchemaError, self_contained_draft7


class Pet(BaseModel):
    kind: Literal["cat", "dog"]
    title: str = Field(description="A property that happens to be called title.")


class Owner(BaseModel):
    first: Pet
    second: Pet | None = None


class Cat(BaseModel):
    kind: Literal["cat"]


class Dog(BaseModel):
    kind: Literal["dog"]


class Ping(BaseModel):
    pong: Pong | None = None


class Pong(BaseModel):
    ping: Ping | None = None


Ping.model_rebuild()


def _clean(annotation: Any) -> dict[str, Any]:
    return self_contained_draft7(TypeAdapter(annotation).json_schema())


def test_references_are_inlined_and_titles_dropped() -> None:
    schema = _clean(Owner)
    pet = {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["cat", "dog"]},
            "title": {
                "type": "string",
                "description": "A property that happens to be called title.",
            },
        },
        "required": ["kind", "title"],
    }
    assert schema == {
        "type": "object",
        "properties": {
            "first": pet,
            "second": {"anyOf": [pet, {"type": "null"}], "default": None},
        },
        "required": ["first"],
    }


def test_reference_siblings_are_kept() -> None:
    raw = {
        "$defs": {"Pet": {"type": "object", "title": "Pet", "description": "old"}},
        "$ref": "#/$defs/Pet",
        "description": "new",
    }
    assert self_contained_draft7(raw) == {"type": "object", "description": "new"}


def test_fixed_tuple_becomes_a_uniform_array_of_fixed_length() -> None:
    # Not draft 7's `items: [..]`: vLLM's structured output cannot compile it (HTTP 500).
    assert _clean(tuple[int, str]) == {
        "type": "array",
        "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "minItems": 2,
        "maxItems": 2,
    }
    assert _clean(tuple[float, float]) == {
        "type": "array",
        "items": {"type": "number"},
        "minItems": 2,
        "maxItems": 2,
    }


def test_tuple_tail_joins_the_item_types() -> None:
    raw = {"type": "array", "prefixItems": [{"type": "integer"}], "items": {"type": "string"}}
    assert self_contained_draft7(raw) == {
        "type": "array",
        "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
    }


def test_empty_tuple() -> None:
    assert _clean(tuple[()]) == {"type": "array", "minItems": 0, "maxItems": 0}


def test_sets_lose_unique_items() -> None:
    # vLLM's structured output refuses `uniqueItems`; validation still makes a set.
    assert _clean(set[str]) == {"type": "array", "items": {"type": "string"}}


def test_formats_unknown_to_vllm_are_dropped() -> None:
    assert _clean(bytes) == {"type": "string"}
    assert _clean(pathlib.Path) == {"type": "string"}
    assert _clean(datetime.datetime) == {"type": "string", "format": "date-time"}
    assert _clean(uuid.UUID) == {"type": "string", "format": "uuid"}


def test_discriminator_is_dropped() -> None:
    schema = _clean(Annotated[Cat | Dog, Field(discriminator="kind")])
    assert "discriminator" not in schema
    assert [option["properties"]["kind"]["const"] for option in schema["oneOf"]] == ["cat", "dog"]
    jsonschema.Draft7Validator.check_schema(schema)


def test_recursion_is_refused_with_the_cycle() -> None:
    with pytest.raises(RecursiveSchemaError, match=r"Ping -> Pong -> Ping"):
        _clean(Ping)


def test_data_keywords_are_left_alone() -> None:
    raw = {"type": "object", "default": {"title": "kept"}, "enum": [{"$ref": "data"}]}
    assert self_contained_draft7(raw) == raw


def test_unknown_reference() -> None:
    with pytest.raises(TypeError, match="unexpected JSON schema reference"):
        self_contained_draft7({"$ref": "https://example.invalid/schema"})
