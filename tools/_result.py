"""The outcome of one tool call, successful or not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic_core import to_jsonable_python

from tools._printing import safe_repr

__all__ = ["NO_OUTPUT", "ErrorKind", "ToolResult"]

NO_OUTPUT = "(no output)"
"""The tool message's content when a tool's text is empty: no empty tool message is sent."""

ErrorKind = Literal[
    "unknown_tool",
    "invalid_arguments",
    "tool_error",
    "exception",
    "timeout",
    "not_approved",
    "not_run",
]
"""Why a call failed, for programs (``ToolResult.error`` is the message for people and models).

- ``unknown_tool``: no tool has that name.
- ``invalid_arguments``: not JSON, not an object, or failed validation against the schema.
- ``tool_error``: the tool raised `ToolError` (or `ToolRetry`) with a message for the model.
- ``exception``: the tool raised any other exception.
- ``timeout``: the tool ran past its timeout.
- ``not_approved``: approval was refused, no approver was configured, or the approver failed.
- ``not_run``: the call was never started (the turn hit its tool-round limit, or was
  interrupted before the call began).
"""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What one tool call gave: the text for the model plus everything a program needs.

    Attributes:
        ok: True when the tool ran and returned.
        content: The text that goes back to the model in the tool message.
        value: What the tool returned (None on failure).
        error: On failure, a short specific message (the same text as ``content``); else None.
        name: The tool's name (the name the model gave, when no tool matched it).
        arguments: The parsed arguments (``{}`` when they were not a JSON object).
        call_id: The tool call id from the server ("" when there was none).
        duration: Seconds the whole call took (validation, approval and run).
        error_kind: On failure, the machine-readable reason (see `ErrorKind`); else None.
    """

    ok: bool
    content: str
    value: Any = None
    error: str | None = None
    name: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    call_id: str = ""
    duration: float = 0.0
    error_kind: ErrorKind | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form for transcripts and logs (``value`` made JSON-able, else its repr)."""
        return {
            "call_id": self.call_id,
            "name": self.name,
            "arguments": _jsonable(self.arguments),
            "ok": self.ok,
            "content": self.content,
            "value": _jsonable(self.value),
            "error": self.error,
            "error_kind": self.error_kind,
            "duration": self.duration,
        }

    def to_message(self) -> dict[str, str]:
        """The OpenAI-style tool message that answers this call: the one place one is made.

        Its content is ``content``, or `NO_OUTPUT` when that is empty (an empty tool message
        reads as a missing answer, and some servers refuse it).
        """
        return {
            "role": "tool",
            "tool_call_id": self.call_id,
            "content": self.content if self.content.strip() else NO_OUTPUT,
        }


def _jsonable(value: Any) -> Any:
    try:
        return to_jsonable_python(value, fallback=safe_repr)
    except Exception:  # a circular reference, a serializer that raises...
        return safe_repr(value)
