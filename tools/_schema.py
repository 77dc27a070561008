"""Turn pydantic's JSON schema into what a tool schema must be: self-contained draft 7.

Pydantic emits draft 2020-12 with ``$defs``/``$ref``; Voxtral's tool schemas must be draft 7
(and compile in vLLM's structured output), and a 3B model reads the schema as text, so
references are inlined, tuples become plain arrays, and the ``title`` keys pydantic adds
(names repeated in title case) are dropped.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RecursiveSchemaError", "UnsupportedSchemaError", "self_contained_draft7"]

# Keywords whose value is a map from names to schemas.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
# Keywords whose value is one schema.
_SCHEMA_VALUES = frozenset(
    {"additionalProperties", "additionalItems", "not", "if", "then", "else", "contains",
     "propertyNames", "unevaluatedItems", "unevaluatedProperties"}
)  # fmt: skip
# Keywords whose value is a list of schemas.
_SCHEMA_LISTS = frozenset({"anyOf", "allOf", "oneOf", "prefixItems"})
# Keywords dropped from the output: references (inlined), noise, OpenAPI-only keys, and
# `uniqueItems` (sets), which vLLM's structured output refuses ("Unimplemented keys", HTTP 400);
# the tool's validation still gives it a set.
_DROPPED = frozenset(
    {"$defs", "definitions", "title", "discriminator", "uniqueItems", "$schema", "$id", "$comment"}
)
# Keywords that cannot be inlined: a schema using them cannot be offered to the model.
_REFUSED = frozenset({"$dynamicRef", "$recursiveRef", "$dynamicAnchor", "$recursiveAnchor"})
# String formats vLLM's structured output (xgrammar) knows; any other (pydantic's "binary",
# "password", "path"...) makes it refuse the request, so those are dropped.
_KNOWN_FORMATS = frozenset(
    {"date-time", "date", "time", "duration", "email", "hostname", "ipv4", "ipv6", "uri",
     "uri-reference", "uri-template", "json-pointer", "relative-json-pointer", "uuid"}
)  # fmt: skip
_REFERENCE_PREFIXES = ("#/$defs/", "#/definitions/")


class UnsupportedSchemaError(TypeError):
    """A schema uses a keyword that cannot be written out self-contained (the message names it)."""


class RecursiveSchemaError(UnsupportedSchemaError):
    """A type refers to itself, so its schema cannot be written out without references."""


def self_contained_draft7(schema: dict[str, Any]) -> dict[str, Any]:
    """Return ``schema`` (pydantic output) with references inlined, titles dropped, draft 7.

    Definitions may be under ``$defs`` or (draft 7) ``definitions``; a draft-7 tuple
    (``items`` as a list) becomes a uniform array like a ``prefixItems`` one.

    Raises:
        RecursiveSchemaError: a definition refers to itself (directly or not).
        UnsupportedSchemaError: a reference that is not to a local definition, or a dynamic
            reference (``$dynamicRef``, ``$recursiveRef``); the message names the keyword.
    """
    definitions: dict[str, Any] = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    rewritten: dict[str, Any] = _rewrite(schema, definitions, ())
    return rewritten


def _rewrite(node: Any, definitions: dict[str, Any], expanding: tuple[str, ...]) -> Any:
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _inline_reference(node, definitions, expanding)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _REFUSED:
            raise UnsupportedSchemaError(f"{key} cannot be written out without references")
        if key in _DROPPED or (key == "format" and value not in _KNOWN_FORMATS):
            continue
        if key in _SCHEMA_MAPS:
            out[key] = {name: _rewrite(sub, definitions, expanding) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES:
            out[key] = _rewrite(value, definitions, expanding)
        elif key in _SCHEMA_LISTS or (key == "items" and isinstance(value, list)):
            out[key] = [_rewrite(sub, definitions, expanding) for sub in value]
        elif key == "items":
            out[key] = _rewrite(value, definitions, expanding)
        else:
            out[key] = value  # data: default, enum, const, examples, description...
    if isinstance(out.get("items"), list):  # the draft-7 tuple: its tail is additionalItems
        out["prefixItems"] = out.pop("items")
        tail = out.pop("additionalItems", None)
        if isinstance(tail, dict):
            out["items"] = tail
    if "prefixItems" in out:
        _tuple_as_uniform_array(out)
    return out


def _tuple_as_uniform_array(schema: dict[str, Any]) -> None:
    """Describe a tuple as an array whose items are any of the tuple's item types.

    ``prefixItems`` is draft 2020. Its draft-7 spelling (``items`` as a list) is what vLLM's
    structured output (xgrammar) cannot compile: a request with ``tool_choice="required"`` or a
    named tool then fails with HTTP 500. The uniform form is valid in both drafts; the tool's
    own validation still checks each position, and ``minItems``/``maxItems`` keep the length.
    """
    options: list[Any] = []
    for item in [*schema.pop("prefixItems"), schema.pop("items", None)]:
        if item is not None and item not in options:
            options.append(item)
    if len(options) == 1:
        schema["items"] = options[0]
    elif options:
        schema["items"] = {"anyOf": options}


def _inline_reference(
    node: dict[str, Any], definitions: dict[str, Any], expanding: tuple[str, ...]
) -> dict[str, Any]:
    reference = node["$ref"]
    prefix = next((p for p in _REFERENCE_PREFIXES if str(reference).startswith(p)), None)
    name = str(reference).removeprefix(prefix or "")
    if prefix is None or name not in definitions:
        raise UnsupportedSchemaError(
            f"unexpected JSON schema reference $ref {reference!r}: only a local definition "
            "('#/$defs/NAME' or '#/definitions/NAME') can be inlined"
        )
    if name in expanding:
        cycle = " -> ".join((*expanding[expanding.index(name) :], name))
        raise RecursiveSchemaError(
            f"recursive type {name!r} ({cycle}) cannot be described without references "
            "($ref); use a non-recursive type (for example a list of flat items)"
        )
    target = _rewrite(definitions[name], definitions, (*expanding, name))
    siblings = {key: value for key, value in node.items() if key != "$ref"}
    return {**target, **_rewrite(siblings, definitions, expanding)}
