"""The README's "Tools from anywhere" example runs (with the installed filesystem server in
place of `npx -y`, which would fetch it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.mcp.conftest import reference_server

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_tools_from_anywhere_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    (block,) = [block for block in blocks if "MCPServer.stdio(" in block]
    npx = re.compile(r'"npx",\s*"-y",\s*"@modelcontextprotocol/server-filesystem"')
    assert npx.search(block)
    node = f'"node", {str(reference_server("server-filesystem"))!r}'
    code = npx.sub(lambda _: node, block)
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    names, status, listed = capsys.readouterr().out.splitlines()
    assert names.startswith("['order_status', 'read_text_file', 'list_directory'] ~")
    assert status == "Order 123456 ships tomorrow."
    assert listed == "True"
