"""`voxagent replay --mcp ...`: an MCP server's tools in a command-line conversation."""

from __future__ import annotations

import sys
from pathlib import Path

from agent.testing import ScriptedServer
from tests.cli.conftest import EXAMPLE, clean_env, run_voxagent
from tests.mcp.conftest import DEMO


def test_replay_offers_and_calls_the_tools_of_an_mcp_server(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    scripted_server.reply_tool_calls(("add", {"a": 2, "b": 3}), ("write_note", {"text": "milk"}))
    scripted_server.reply("Five, and the note is saved.")
    done = run_voxagent(
        "replay", EXAMPLE, "--base-url", scripted_server.base_url, "--yes",
        "--tools", "tests.cli.sample_tools.decorated",
        "--mcp", f"{sys.executable} {DEMO} stdio", "--tool-choice", "add",
        env=clean_env(tmp_path), timeout=120,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    first, second = scripted_server.requests
    assert {"add", "write_note"} <= set(first.tool_names)
    assert first.tool_choice == {"type": "function", "function": {"name": "add"}}
    assert [message["content"] for message in second.tool_messages] == ["5", "saved 'milk'"]
    assert "approved mcp:demo_server/write_note(text='milk') (--yes)" in done.stdout


def test_a_tool_choice_no_server_offers_is_a_usage_error(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    done = run_voxagent(
        "replay", EXAMPLE, "--base-url", scripted_server.base_url,
        "--mcp", f"{sys.executable} {DEMO} stdio", "--tool-choice", "nothing_like_it",
        env=clean_env(tmp_path), timeout=120,
    )  # fmt: skip
    assert done.code == 2, done.stderr
    assert "--tool-choice nothing_like_it" in done.stderr


def test_run_counts_the_tools_of_its_mcp_servers_in_its_header(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    scripted_server.reply("Nothing to do.")
    done = run_voxagent(
        "run", "--replay", EXAMPLE, "--fast", "--base-url", scripted_server.base_url,
        "--tools", "tests.cli.sample_tools.decorated", "--mcp", f"{sys.executable} {DEMO} stdio",
        env=clean_env(tmp_path), timeout=120,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    (request,) = scripted_server.requests
    header = done.stdout.splitlines()[0]
    assert header.startswith("voxagent · model voxtral-scripted")
    # the header comes once the server has listed its tools: all those offered are counted
    assert f" · {len(request.tool_names)} tools · " in header and len(request.tool_names) > 2
