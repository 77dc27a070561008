"""The demo MCP server over stdio: listed, called, failing, crashing, growing."""

from __future__ import annotations

import os
import signal

import pytest

from tests.mcp.conftest import demo_stdio, eventually
from tools import MCPServer


async def test_its_tools_are_listed_with_their_schemas(open_box) -> None:
    box = open_box(servers=[demo_stdio()])
    assert box.names == []  # nothing until it starts
    await box.start()
    assert {"add", "write_note", "fail", "picture", "grow", "crash"} <= set(box.names)
    add = box["add"]
    assert add.source == "demo"
    assert add.description == "Add two whole numbers."
    assert add.parameters["properties"] == {"a": {"type": "integer"}, "b": {"type": "integer"}}
    assert add.parameters["required"] == ["a", "b"]
    assert box.schema_tokens() > 0
    assert "tree" not in box.names  # its recursive schema cannot be offered
    assert "recursive" in box.servers[0].left_out["tree"]


async def test_a_call_returns_the_text_and_bad_arguments_never_reach_the_server(open_box) -> None:
    box = open_box(servers=[demo_stdio()])
    await box.start()
    result = await box.call("add", '{"a": 2, "b": 3}', "c1")
    assert (result.ok, result.content, result.call_id) == (True, "5", "c1")
    wrong = await box.call("add", {"a": "two"})
    assert wrong.error_kind == "invalid_arguments"
    assert "'b' is a required property" in wrong.content


async def test_an_error_result_is_a_failed_call_the_model_can_read(open_box) -> None:
    box = open_box(servers=[demo_stdio()])
    await box.start()
    result = await box.call("fail", {"reason": "the disk is full"})
    assert not result.ok
    assert result.error_kind == "tool_error"
    assert "it failed because the disk is full" in result.content


async def test_an_image_comes_back_as_a_note(open_box) -> None:
    box = open_box(servers=[demo_stdio()])
    await box.start()
    result = await box.call("picture")
    assert result.ok
    assert result.content.startswith("[image: image/png, ")


async def test_a_tool_that_is_not_read_only_needs_approval_which_sees_the_server(open_box) -> None:
    asked: list[tuple[str, str | None]] = []

    def approve(name: str, arguments: dict, tool) -> bool:
        asked.append((name, tool.source))
        return arguments["text"] != "no"

    box = open_box(servers=[demo_stdio()], approve=approve)
    await box.start()
    assert box["write_note"].requires_approval and not box["add"].requires_approval
    assert (await box.call("write_note", {"text": "milk"})).content == "saved 'milk'"
    refused = await box.call("write_note", {"text": "no"})
    assert refused.error_kind == "not_approved"
    assert asked == [("write_note", "demo"), ("write_note", "demo")]
    await box.call("add", {"a": 1, "b": 1})
    assert len(asked) == 2  # read-only: never asked


async def test_without_an_approver_it_is_refused_unless_the_server_is_trusted(open_box) -> None:
    untrusted = open_box(servers=[demo_stdio()])
    trusted = open_box(servers=[demo_stdio(trusted=True)])
    await untrusted.start()
    await trusted.start()
    assert (await untrusted.call("write_note", {"text": "x"})).error_kind == "not_approved"
    assert (await trusted.call("write_note", {"text": "x"})).ok


async def test_include_and_exclude_choose_the_tools_offered(open_box) -> None:
    box = open_box(servers=[demo_stdio(include=["a*", "fail", "grow"], exclude=["grow"])])
    await box.start()
    assert box.names == ["add", "fail"]


async def test_a_call_past_the_toolbox_timeout_is_a_timeout_result(open_box) -> None:
    box = open_box(servers=[demo_stdio()], default_timeout=0.5)
    await box.start()
    slow = await box.call("wait", {"seconds": 60})
    assert slow.error_kind == "timeout"
    assert (await box.call("add", {"a": 1, "b": 1})).content == "2"  # still connected


async def test_a_crashed_server_answers_errors_then_is_restarted(open_box) -> None:
    server = demo_stdio()
    box = open_box(servers=[server])
    await box.start()
    crashed = await box.call("crash")
    assert not crashed.ok and "restarted" in crashed.content
    assert "add" in box.names  # still offered while it is away
    await eventually(lambda: server.connections == 2 and server.connected, "it is restarted")
    assert (await box.call("add", {"a": 20, "b": 22})).content == "42"


async def test_a_server_killed_from_outside_is_noticed_without_a_call(open_box) -> None:
    server = demo_stdio()
    box = open_box(servers=[server])
    await box.start()
    pids = _children()
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    await eventually(lambda: server.connections == 2 and server.connected, "it is restarted")
    assert _children() != pids
    assert (await box.call("add", {"a": 1, "b": 2})).content == "3"


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
async def test_the_list_is_refreshed_when_the_server_says_it_changed(open_box, protocol) -> None:
    box = open_box(servers=[demo_stdio(trusted=True, protocol=protocol)])
    await box.start()
    assert "hello" not in box.names
    assert (await box.call("grow")).ok
    await eventually(lambda: "hello" in box.names, "the new tool is offered")
    assert (await box.call("hello")).content == "hello there"


async def test_a_server_that_cannot_start_reports_why_and_the_box_still_works(open_box) -> None:
    broken = MCPServer.stdio("/nonexistent/server", name="broken", connect_timeout=30)
    box = open_box([_local_tool], servers=[broken])
    await box.start()
    assert box.names == ["_local_tool"]
    assert broken.error and not broken.connected


def _local_tool() -> str:
    """A tool of the app's own."""
    return "local"


def _children() -> set[int]:
    """The pids of this process's children (the stdio servers)."""
    me = os.getpid()
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == me:
                        found.add(int(entry))
            except OSError:
                continue
    return found
