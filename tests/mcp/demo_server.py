"""An MCP server built with the SDK the toolbox uses (``MCPServer``, once called FastMCP).

``python demo_server.py stdio`` serves on stdin/stdout; ``python demo_server.py http PORT``
serves streamable HTTP on 127.0.0.1:PORT/mcp. Its tools: a read-only sum, one that fails,
one that returns an image, one that adds a tool (and says the list changed), and one that
makes the process exit (a crash).
"""

from __future__ import annotations

import base64
import contextlib
import os
import sys

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp.types import ToolAnnotations

server = MCPServer("demo", log_level="WARNING")
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def write_note(text: str) -> str:
    """Save a note (not read-only: it needs approval)."""
    return f"saved {text!r}"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def fail(reason: str) -> str:
    """Always fails, with the reason given."""
    raise ToolError(f"it failed because {reason}")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def picture() -> Image:
    """A one-pixel picture."""
    return Image(data=_PNG, format="png")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
async def grow(ctx: Context) -> str:
    """Add the tool `hello`, and tell the client the tool list changed."""
    server.add_tool(lambda: "hello there", name="hello", description="Say hello.")
    await ctx.notify_tools_changed()  # 2026-era clients: their subscriptions/listen stream
    with contextlib.suppress(Exception):  # earlier ones: a plain notification
        await ctx.session.send_tool_list_changed()
    return "grown"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
async def wait(seconds: float) -> str:
    """Answer after some seconds."""
    await anyio.sleep(seconds)
    return "waited"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def crash() -> str:
    """Make the server process exit at once."""
    os._exit(3)


def _recursive(node: dict) -> str:
    return "never offered"


# A schema no grammar can take without references: listed, but left out by the client.
server.add_tool(_recursive, name="tree", description="Takes a recursive tree.")
server._tool_manager.get_tool("tree").parameters = {  # type: ignore[union-attr]
    "type": "object",
    "properties": {"node": {"$ref": "#/$defs/Node"}},
    "$defs": {"Node": {"type": "object", "properties": {"kids": {"type": "array",
              "items": {"$ref": "#/$defs/Node"}}}}},
}  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
