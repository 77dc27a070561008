"""The names `tools` exports are a contract."""

from __future__ import annotations

import tools


def test_exported_names() -> None:
    assert set(tools.__all__) == {
        "DONE",
        "NAME_PATTERN",
        "Approver",
        "ErrorKind",
        "Tool",
        "ToolCallSpec",
        "ToolContext",
        "ToolError",
        "ToolResult",
        "ToolRetry",
        "Toolbox",
        "parse_arguments",
        "tool",
    }
    for name in tools.__all__:
        assert getattr(tools, name) is not None
