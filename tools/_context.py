"""The context object a tool can ask for, hidden from the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

StateT = TypeVar("StateT")

__all__ = ["ToolContext"]


@dataclass(frozen=True, slots=True)
class ToolContext(Generic[StateT]):
    """What a running tool may know about its call; the model never sees it.

    Declare a parameter annotated ``ToolContext`` (or ``ToolContext[MyState]``) anywhere in a
    tool's signature and the `Toolbox` fills it in; it is left out of the tool's schema.

    Attributes:
        call_id: The id the server gave this tool call ("" when there was none).
        tool_name: The name the tool was called by.
        state: The agent's state object (``Toolbox(state=...)`` or ``box.call(state=...)``).
        arguments: The arguments as the model sent them, parsed from JSON.
    """

    call_id: str
    tool_name: str
    state: StateT
    arguments: dict[str, Any] = field(default_factory=dict)
