"""The demo MCP server over streamable HTTP on 127.0.0.1: listed, called, reconnected."""

from __future__ import annotations

from tests.mcp.conftest import eventually
from tools import MCPServer


def _server(url: str) -> MCPServer:
    return MCPServer.http(url, name="web", trusted=True, retry_delay=0.05, max_retry_delay=0.5)


async def test_its_tools_are_listed_and_called(open_box, demo_http) -> None:
    box = open_box(servers=[_server(demo_http.url)])
    await box.start()
    assert {"add", "fail", "grow"} <= set(box.names)
    assert (await box.call("add", {"a": 40, "b": 2})).content == "42"
    failed = await box.call("fail", {"reason": "no network"})
    assert failed.error_kind == "tool_error" and "no network" in failed.content


async def test_the_list_is_refreshed_when_it_changes(open_box, demo_http) -> None:
    box = open_box(servers=[_server(demo_http.url)])
    await box.start()
    assert (await box.call("grow")).ok
    await eventually(lambda: "hello" in box.names, "the new tool is offered")


async def test_a_server_that_went_away_answers_errors_until_it_is_back(open_box, demo_http) -> None:
    server = _server(demo_http.url)
    box = open_box(servers=[server])
    await box.start()
    demo_http.stop()
    gone = await box.call("add", {"a": 1, "b": 1})
    assert not gone.ok and "web" in gone.content
    demo_http.start()
    await eventually(lambda: server.connections >= 2 and server.connected, "it reconnects")
    assert (await box.call("add", {"a": 2, "b": 2})).content == "4"


async def test_headers_are_sent_and_a_wrong_url_reports_why(open_box, demo_http) -> None:
    wrong = MCPServer.http(
        demo_http.url.replace("/mcp", "/nothing"), headers={"X-Test": "1"}, connect_timeout=30
    )
    box = open_box(servers=[wrong])
    await box.start()
    assert box.names == [] and wrong.error
