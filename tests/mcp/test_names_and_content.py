"""The names offered (valid, prefixed on a clash), what results read as, the token estimate."""

from __future__ import annotations

import base64

import mcp_types as types
import pytest

from agent.history import estimate_tokens as history_estimate
from tests.mcp.conftest import demo_stdio
from tools import MCPServer, Toolbox
from tools._mcp import _name_from_command, valid_tool_name
from tools._mcp_content import read_result
from tools._tokens import estimate_tokens, schema_tokens


def add(a: int, b: int) -> int:
    """The app's own add."""
    return a + b


async def test_two_servers_with_the_same_tools_get_prefixed_names(open_box) -> None:
    box = open_box([add], servers=[demo_stdio(name="one"), demo_stdio(name="two")])
    await box.start()
    assert "add" in box.names and box["add"].source is None  # the app's own keeps its name
    assert {"one_add", "two_add", "one_fail", "two_fail"} <= set(box.names)
    assert box["two_add"].source == "two"
    assert (await box.call("two_add", {"a": 1, "b": 2})).content == "3"
    assert (await box.call("add", {"a": 1, "b": 2})).content == "3"


def test_names_are_made_valid() -> None:
    assert valid_tool_name("read.file v2") == "read_file_v2"
    assert valid_tool_name("x" * 80) == "x" * 64
    assert valid_tool_name("...", fallback="mcp") == "mcp"


def test_a_server_is_named_after_its_command_line_or_url() -> None:
    assert _name_from_command(["npx", "-y", "@modelcontextprotocol/server-filesystem", "~"]) == (
        "server-filesystem"
    )
    assert _name_from_command(["node", "pkg/server-everything/dist/index.js"]) == (
        "server-everything"
    )
    assert _name_from_command(["uvx", "mcp-server-time@1.2"]) == "mcp-server-time"
    assert MCPServer.parse("http://127.0.0.1:8765/mcp").name == "127_8765"
    assert MCPServer.parse("python -m my_server --flag", name="mine").name == "mine"


def test_bad_servers_are_refused_at_once() -> None:
    with pytest.raises(ValueError, match="needs an http"):
        MCPServer.parse("ftp://host/mcp")
    with pytest.raises(ValueError, match="command line or an http"):
        MCPServer.parse("  ")
    with pytest.raises(ValueError, match="needs a command"):
        MCPServer.stdio("")
    with pytest.raises(TypeError, match="list of tool names"):
        MCPServer.stdio("srv", include="read_file")  # type: ignore[arg-type]
    box = Toolbox(servers=[MCPServer.parse("srv", name="same")])
    with pytest.raises(ValueError, match="'same' is in this Toolbox already"):
        box.add_server(MCPServer.parse("other", name="same"))


def test_text_is_text_structured_is_compact_json_and_media_are_notes() -> None:
    png = base64.b64encode(b"x" * 3000).decode()
    result = types.CallToolResult(
        content=[
            types.ImageContent(type="image", data=png, mime_type="image/png"),
            types.AudioContent(type="audio", data=png, mime_type="audio/wav"),
            types.ResourceLink(type="resource_link", uri="file:///a.txt", name="a.txt"),
            types.EmbeddedResource(
                type="resource",
                resource=types.TextResourceContents(uri="file:///b.txt", text="hello"),
            ),
        ],
        structured_content={"temperature": 21, "sky": "clear"},
    )
    is_error, text = read_result(result)
    assert not is_error
    assert text.splitlines() == [
        '{"temperature":21,"sky":"clear"}',
        "[image: image/png, 3.0 kB]",
        "[audio: audio/wav, 3.0 kB]",
        "[resource link: a.txt <file:///a.txt>]",
        "[resource: <file:///b.txt>, unknown type, 5 characters of text]",
    ]
    with_text = types.CallToolResult(
        content=[types.TextContent(type="text", text="21 degrees")],
        structured_content={"temperature": 21},
        is_error=True,
    )
    assert read_result(with_text) == (True, "21 degrees")


def test_one_token_estimate_for_the_history_and_the_tools() -> None:
    assert history_estimate is estimate_tokens
    schemas = [{"type": "function", "function": {"name": "x", "parameters": {}}}]
    assert schema_tokens(schemas) > 0 and schema_tokens([]) == 0


async def test_a_warning_when_the_tools_take_too_much_of_the_context(open_box, caplog) -> None:
    box = open_box([add], budget_share=0.25)
    await box.start(max_model_len=10_000)
    assert not caplog.records
    await box.start(max_model_len=4 * box.schema_tokens() - 1)
    assert "over 25% of the server's" in caplog.text
