"""Function calling: typed Python functions become tools a speech LLM can call.

``@tool`` builds a `Tool` (name, description, JSON schema from the signature and docstring);
a `Toolbox` holds tools and runs the model's calls, turning every failure into a `ToolResult`.
`Tool.from_schema` makes a tool of a JSON schema; `MCPServer` brings an MCP server's tools.
"""

from tools._calls import ToolCallSpec, parse_arguments
from tools._content import DONE
from tools._context import ToolContext
from tools._errors import ToolError, ToolRetry
from tools._fanout import ToolFinishedHook, ToolStartedHook
from tools._mcp import MCPServer
from tools._result import NO_OUTPUT, ErrorKind, ToolResult
from tools._tool import NAME_PATTERN, Tool, tool
from tools._toolbox import Approver, Toolbox

__all__ = [
    "DONE",
    "NAME_PATTERN",
    "NO_OUTPUT",
    "Approver",
    "ErrorKind",
    "MCPServer",
    "Tool",
    "ToolCallSpec",
    "ToolContext",
    "ToolError",
    "ToolFinishedHook",
    "ToolResult",
    "ToolRetry",
    "ToolStartedHook",
    "Toolbox",
    "parse_arguments",
    "tool",
]
