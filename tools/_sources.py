"""The names a toolbox offers: its own tools, then each MCP server's, made unique.

A server's tool keeps its name (made valid: ``^[a-zA-Z0-9_-]{1,64}$``) unless another server
or the app offers the same name; then it is prefixed with its server's name
(``files_read_file``), and numbered if that still clashes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from tools._mcp import MCPServer, valid_tool_name
from tools._tool import Tool

__all__ = ["offered_tools"]


def offered_tools(
    local: Mapping[str, Tool[..., Any]], servers: Sequence[MCPServer]
) -> dict[str, Tool[..., Any]]:
    """Every tool by the name the model sees: ``local`` first, then the servers' in order."""
    offered = dict(local)
    counts = Counter(valid_tool_name(listed.name) for s in servers for listed in s.listed)
    for server in servers:
        for listed in server.listed:
            name = valid_tool_name(listed.name)
            if counts[name] > 1 or name in local:
                name = valid_tool_name(f"{server.name}_{name}")
            name = _unused(name, offered)
            made = server.tool(listed, name)
            if made is not None:
                offered[name] = made
    return offered


def _unused(name: str, taken: Mapping[str, Any]) -> str:
    number = 2
    candidate = name
    while candidate in taken:
        suffix = f"_{number}"
        candidate = name[: 64 - len(suffix)] + suffix
        number += 1
    return candidate
