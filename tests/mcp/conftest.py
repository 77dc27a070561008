"""Real MCP servers for the tests: the SDK-built demo server (stdio and HTTP on 127.0.0.1)
and the npm reference servers that scripts/npm-deps installs into .cache/npm."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="the `mcp` extra is not installed (pip install '.[mcp]')")

from tools import MCPServer, Toolbox

ROOT = Path(__file__).resolve().parents[2]
DEMO = Path(__file__).with_name("demo_server.py")
NPM = ROOT / ".cache" / "npm" / "node_modules" / "@modelcontextprotocol"


def reference_server(package: str) -> Path:
    """The entry point of an npm reference server; the test skips when it is not installed."""
    entry = NPM / package / "dist" / "index.js"
    if not entry.is_file():
        pytest.skip(f"@modelcontextprotocol/{package} is not installed: run scripts/npm-deps")
    return entry


def demo_stdio(**options: object) -> MCPServer:
    """The demo server over stdio (fast retries, for the restart tests)."""
    options.setdefault("retry_delay", 0.05)
    options.setdefault("name", "demo")
    return MCPServer.stdio(sys.executable, str(DEMO), "stdio", **options)  # type: ignore[arg-type]


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Wait until ``condition()`` holds (a generous bound: the machine may be busy)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DemoHTTP:
    """The demo server over streamable HTTP in a process of its own, on a fixed port (so it
    can be stopped and started again at the same URL)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(DEMO), "http", str(self.port)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the demo MCP server over HTTP did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture
def demo_http() -> Iterator[DemoHTTP]:
    server = DemoHTTP()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def open_box() -> AsyncIterator[Callable[..., Toolbox]]:
    """Toolboxes closed (their servers stopped) after the test."""
    boxes: list[Toolbox] = []

    def make(*args: object, **options: object) -> Toolbox:
        box = Toolbox(*args, **options)  # type: ignore[arg-type]
        boxes.append(box)
        return box

    yield make
    for box in boxes:
        await box.aclose()
