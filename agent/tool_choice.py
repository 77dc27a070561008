"""`tool_choice`: what the model may do on a turn's first call, checked in one place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

__all__ = ["ToolChoice", "resolve_tool_choice"]

ToolChoice: TypeAlias = Literal["auto", "none", "required"] | str | dict[str, Any]
"""`"auto"`, `"none"`, `"required"`, a tool name, or an OpenAI named-function dict."""


def resolve_tool_choice(choice: ToolChoice, tool_names: Sequence[str]) -> str | dict[str, Any]:
    """The `tool_choice` to send: a mode, or `{"type": "function", ...}` for a tool name.

    Raises:
        ValueError: `choice` names no tool of `tool_names`, or is `"required"` with no tools.
    """
    if isinstance(choice, dict):
        name = choice.get("function", {}).get("name")
        if name not in tool_names:
            raise ValueError(f"tool_choice names {name!r}, which is not one of the tools")
        return choice
    if choice in ("auto", "none", "required"):
        if choice == "required" and not tool_names:
            raise ValueError('tool_choice="required" needs at least one tool')
        return choice
    if choice in tool_names:
        return {"type": "function", "function": {"name": choice}}
    raise ValueError(
        f"tool_choice must be 'auto', 'none', 'required' or a tool name "
        f"({', '.join(tool_names) or 'no tools'}), got {choice!r}"
    )
