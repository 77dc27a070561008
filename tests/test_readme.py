"""The README's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_block(containing: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    matches = [block for block in blocks if containing in block]
    assert len(matches) == 1, f"expected one README block with {containing!r}"
    return matches[0]


async def test_testing_your_own_agent_example(scripted_server: Any) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(_python_block("async def test_weather"), str(README), "exec"), namespace)
    await namespace["test_weather"](scripted_server)
