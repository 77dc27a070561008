"""MCP tools offered to a real vLLM server: its grammar accepts their schemas, a named
`tool_choice` calls one, and the follow-up request with the result is accepted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .conftest import get_weather, needs_vllm

pytest.importorskip("mcp", reason="the `mcp` extra is not installed")

from agent import Agent
from agent.testing import tone
from tools import MCPServer, Toolbox

pytestmark = [needs_vllm, pytest.mark.vllm]

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "mcp" / "demo_server.py"
EVERYTHING = ROOT / ".cache/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js"


def _servers(which: str) -> list[MCPServer]:
    if which == "sdk":
        return [MCPServer.stdio(sys.executable, str(DEMO), "stdio", name="demo", exclude=["crash"])]
    if not EVERYTHING.is_file():
        pytest.skip("@modelcontextprotocol/server-everything is not installed: scripts/npm-deps")
    include = ["echo", "get-sum", "get-structured-content", "get-annotated-message"]
    return [MCPServer.stdio("node", str(EVERYTHING), name="everything", include=include)]


@pytest.mark.parametrize(("which", "choice"), [("sdk", "add"), ("npm", "get-sum")])
async def test_a_named_mcp_tool_is_called_and_the_follow_up_accepted(
    base_url: str, which: str, choice: str
) -> None:
    box = Toolbox([get_weather], servers=_servers(which))
    async with Agent(box, base_url=base_url, instructions="Use the tools.") as agent:
        turn = await agent.run(tone(1.0), sample_rate=16000, tool_choice=choice)
        assert box[choice].source is not None
        assert turn.tool_results, f"tool_choice={choice!r} must give a tool call"
        assert turn.tool_results[0].name == choice
        # Whatever arguments the model chose, a result (or an error result) went back and
        # the server accepted the request that carried it.
        assert turn.rounds >= 2
    assert not any(server.connected for server in box.servers)  # closed with the agent
