"""What the model sends: tool calls in their several shapes, and their JSON arguments."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeAlias

from tools._printing import safe_repr

__all__ = ["Arguments", "ToolCallSpec", "parse_arguments", "read_call"]

Arguments: TypeAlias = str | Mapping[str, Any] | None
"""A call's arguments: JSON text as the model sent it, a mapping, or None (no arguments)."""


class _FunctionCall(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def arguments(self) -> str: ...


class _ToolCallObject(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def function(self) -> _FunctionCall: ...


class _FlatToolCall(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def arguments(self) -> str: ...


ToolCallSpec: TypeAlias = (
    tuple[str, Arguments]
    | tuple[str, Arguments, str]
    | Mapping[str, Any]
    | _ToolCallObject
    | _FlatToolCall
)
"""One call for `Toolbox.call_many`: ``(name, arguments)``, ``(name, arguments, call_id)``, an
OpenAI-style tool call dict (``{"id", "function": {"name", "arguments"}}``), an object with
``.id`` and ``.function.name``/``.function.arguments`` (as the openai client returns), or one
with ``.id``, ``.name`` and ``.arguments`` (as `agent.backend.ToolCall`)."""


def parse_arguments(arguments: Arguments) -> dict[str, Any] | str:
    """The arguments as a dict, or what is wrong with them."""
    if arguments is None:
        return {}
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if isinstance(arguments, bytes | bytearray):
        arguments = arguments.decode("utf-8", "replace")
    if not isinstance(arguments, str):
        return f"expected a JSON object, got {type(arguments).__name__}"
    if not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError as error:
        return f"not valid JSON ({error.msg} at position {error.pos}); send a JSON object"
    except RecursionError:
        return "nested too deeply; send a flat JSON object"
    if isinstance(parsed, str) and parsed.lstrip().startswith("{"):
        # The object encoded twice, as a JSON string: a slip small models make.
        try:
            parsed = json.loads(parsed)
        except (json.JSONDecodeError, RecursionError):
            return "expected a JSON object, got a string"
    if not isinstance(parsed, dict):
        return f"expected a JSON object, got {_json_kind(parsed)}"
    return parsed


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def read_call(item: ToolCallSpec) -> tuple[str, Arguments, str]:
    """``(name, arguments, call_id)`` of one `ToolCallSpec`.

    Raises:
        ValueError, TypeError: ``item`` is no tool call.
    """
    if isinstance(item, Sequence) and not isinstance(item, str):
        if len(item) == 2:
            return str(item[0]), item[1], ""
        if len(item) == 3:
            return str(item[0]), item[1], str(item[2] or "")
        raise ValueError(f"a call is (name, arguments[, call_id]), got {len(item)} items")
    if isinstance(item, Mapping):
        function = item.get("function", item)
        if not isinstance(function, Mapping) or "name" not in function:
            raise ValueError(
                "a tool call dict is {'id': ..., 'function': {'name': ..., 'arguments': ...}}, "
                f"got {safe_repr(item)}"
            )
        return str(function["name"]), function.get("arguments"), str(item.get("id") or "")
    call_id = str(getattr(item, "id", "") or "")
    function = getattr(item, "function", None)
    if function is not None:
        return str(function.name), function.arguments, call_id
    name = getattr(item, "name", None)
    if isinstance(name, str) and hasattr(item, "arguments"):
        return name, getattr(item, "arguments"), call_id  # noqa: B009 (typed as Any here)
    raise TypeError(f"cannot read a tool call from {safe_repr(item)}")
