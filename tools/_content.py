"""Text for the model: tool return values, validation errors, truncation."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from tools._printing import safe_repr, safe_str

__all__ = ["DONE", "describe_validation_error", "location", "render_value", "truncate"]

DONE = "Done."
"""The content sent back when a tool returns None."""

_MAX_ERRORS_SHOWN = 4
_MAX_INPUT_REPR = 60


def render_value(value: Any) -> str:
    """Text for a returned value: str as is, None as `DONE`, anything else as compact JSON.

    An object with no JSON form becomes its ``str()``; inside a container, a JSON string of it.
    Never raises: a value that cannot be printed at all becomes ``<TypeName object>``.
    """
    if isinstance(value, str):
        return str.__str__(value)  # a plain str, whatever a subclass does
    if value is None:
        return DONE
    try:
        return to_json(value).decode()
    except Exception:  # no JSON form (or its serializer raised): try the next way
        pass
    if _is_container(value):
        try:
            return to_json(value, fallback=safe_str).decode()
        except Exception:
            pass
    return safe_str(value)


def _is_container(value: Any) -> bool:
    try:  # an object may even lie about its class, and raise doing so
        return isinstance(value, Mapping | list | tuple | set | frozenset | BaseModel) or (
            dataclasses.is_dataclass(value) and not isinstance(value, type)
        )
    except Exception:
        return False


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, ending with a visible marker when cut.

    The marker counts toward the limit (a limit shorter than the marker leaves just the marker).
    """
    if len(text) <= limit:
        return text
    # The marker's length depends on how much is cut, which depends on the marker: settle it.
    kept = limit
    for _ in range(3):
        marker = f"... [truncated {len(text) - kept} chars]"
        kept = max(limit - len(marker), 0)
    return text[:kept] + f"... [truncated {len(text) - kept} chars]"


def describe_validation_error(error: ValidationError) -> str:
    """A compact, model-readable summary: which argument, what was wrong, what was given."""
    problems = []
    details = error.errors(include_url=False, include_context=False)
    for detail in details[:_MAX_ERRORS_SHOWN]:
        where = location(detail["loc"])
        kind = detail["type"]
        if kind == "missing":
            problem = "missing (required)"
        elif kind == "extra_forbidden":
            problem = "unexpected argument (not in the schema)"
        else:
            given = safe_repr(detail["input"])
            if len(given) > _MAX_INPUT_REPR:
                given = given[: _MAX_INPUT_REPR - 3] + "..."
            problem = f"{_lower_first(detail['msg'])}, got {given}"
        problems.append(f"{where}: {problem}" if where else problem)
    if len(details) > _MAX_ERRORS_SHOWN:
        problems.append(f"and {len(details) - _MAX_ERRORS_SHOWN} more")
    return "; ".join(problems)


def location(loc: Iterable[int | str]) -> str:
    """Where in the arguments: ``items[0].quantity``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
