"""The npm reference MCP servers (nobody here wrote them), driven through `Agent` with a
scripted model, and through `voxagent tools --mcp`."""

from __future__ import annotations

import json
from pathlib import Path

from agent import Agent
from agent.testing import ScriptedServer
from tests.cli.conftest import clean_env, run_voxagent
from tests.mcp.conftest import reference_server
from tools import MCPServer, Toolbox


def _everything() -> MCPServer:
    return MCPServer.stdio("node", str(reference_server("server-everything")), name="everything")


def _filesystem(folder: Path) -> MCPServer:
    entry = reference_server("server-filesystem")
    return MCPServer.stdio("node", str(entry), str(folder), name="files")


async def test_an_agent_calls_the_everything_servers_tools(scripted_server: ScriptedServer) -> None:
    scripted_server.reply_tool_calls(
        ("echo", {"message": "hi there"}),
        ("get-sum", {"a": 2, "b": 40}),
        ("get-tiny-image", {}),
    )
    scripted_server.reply("Echoed, summed and shown.")
    everything = _everything()
    async with Agent([everything], base_url=scripted_server.base_url) as agent:
        turn = await agent.run(text="Echo hi there, add 2 and 40, show the image.")
        assert everything.connected
    assert not everything.connected  # closed with the agent
    assert turn.text == "Echoed, summed and shown."
    first, second = scripted_server.requests
    assert {"echo", "get-sum", "get-tiny-image"} <= set(first.tool_names)
    answers = [message["content"] for message in second.tool_messages]
    assert answers[0] == "Echo: hi there"
    assert "42" in answers[1]
    assert "[image: image/png, " in answers[2]
    assert all(result.ok for result in turn.tool_results)


async def test_an_agent_writes_and_reads_files_with_approval(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    asked: list[tuple[str, str | None]] = []

    def approve(name: str, arguments: dict, tool) -> bool:
        asked.append((name, tool.source))
        return True

    note = tmp_path / "note.txt"
    scripted_server.reply_tool_call("write_file", {"path": str(note), "content": "buy milk"})
    scripted_server.reply_tool_call("read_text_file", {"path": str(note)})
    scripted_server.reply("The note says: buy milk.")
    box = Toolbox(servers=[_filesystem(tmp_path)], approve=approve)
    async with Agent(box, base_url=scripted_server.base_url) as agent:
        turn = await agent.run(text="Write 'buy milk' to note.txt, then read it back.")
    assert note.read_text() == "buy milk"
    assert asked == [("write_file", "files")]  # reading is read-only: never asked
    assert [result.ok for result in turn.tool_results] == [True, True]
    assert scripted_server.requests[2].tool_messages[-1]["content"] == "buy milk"


async def test_a_file_outside_the_folder_is_an_error_result(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    scripted_server.reply_tool_call("read_text_file", {"path": "/etc/hostname"})
    scripted_server.reply("I may not read that.")
    async with Agent([_filesystem(tmp_path)], base_url=scripted_server.base_url) as agent:
        turn = await agent.run(text="Read /etc/hostname.")
    (result,) = turn.tool_results
    assert not result.ok and result.error_kind == "tool_error"
    assert "outside allowed directories" in result.content


def test_voxagent_tools_lists_the_filesystem_servers_tools(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    entry = reference_server("server-filesystem")
    done = run_voxagent(
        "tools", "--json", "--base-url", scripted_server.base_url,
        "--tools", "tests.cli.sample_tools.decorated",
        "--mcp", f"node {entry} {tmp_path}",
        env=clean_env(tmp_path), timeout=120,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    report = json.loads(done.stdout)
    tools = {tool["name"]: tool for tool in report["tools"]}
    assert tools["write_file"]["source"] == "mcp:server-filesystem"
    assert tools["write_file"]["needs_approval"] and not tools["read_text_file"]["needs_approval"]
    assert tools["read_text_file"]["parameters"]["required"] == ["path"]
    assert any(tool["source"] == "python" for tool in report["tools"])
    assert report["total_tokens"] >= sum(tool["tokens"] for tool in report["tools"]) * 0.9
    assert report["server"]["max_model_len"] == 32768
    assert report["share_of_context"] == round(report["total_tokens"] / 32768, 4)


def test_voxagent_tools_says_which_server_did_not_answer(tmp_path: Path) -> None:
    done = run_voxagent(
        "tools", "--base-url", "http://127.0.0.1:9/v1", "--mcp", "/nonexistent/mcp-server",
        env=clean_env(tmp_path), timeout=120,
    )  # fmt: skip
    assert done.code == 1
    assert "MCP server mcp-server: not connected" in done.stdout
    assert "no server answered at --base-url" in done.stdout
