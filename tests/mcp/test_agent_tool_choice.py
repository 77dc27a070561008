"""`Agent(tool_choice=<an MCP tool>)` before its server has started: checked at the first turn."""

from __future__ import annotations

import pytest

from agent import Agent
from agent.testing import ScriptedServer
from tests.mcp.conftest import demo_stdio


async def test_an_mcp_tool_named_before_its_server_started_is_forced_at_the_first_turn() -> None:
    with ScriptedServer() as server:
        server.reply_tool_call("add", {"a": 2, "b": 3}).reply("Five.")
        agent = Agent([demo_stdio()], tool_choice="add", base_url=server.base_url)
        async with agent:
            turn = await agent.run(text="two plus three")
        server.verify()
        first = server.requests[0].body
    assert first["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert turn.text == "Five." and [result.content for result in turn.tool_results] == ["5"]


async def test_a_name_no_server_offers_fails_at_the_first_turn() -> None:
    with ScriptedServer() as server:
        agent = Agent([demo_stdio()], tool_choice="multiply", base_url=server.base_url)
        async with agent:
            with pytest.raises(ValueError, match="got 'multiply'"):
                await agent.run(text="two times three")


def test_without_servers_a_wrong_name_fails_at_once() -> None:
    with pytest.raises(ValueError, match="got 'multiply'"):
        Agent([], tool_choice="multiply")
