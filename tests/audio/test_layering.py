"""The audio layer stands alone: it imports nothing of `agent` but its leaf errors module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

AUDIO = Path(__file__).resolve().parents[2] / "agent" / "audio"
ALLOWED_OUTSIDE = {"agent.errors", "tools._threads"}
HEAVY = ("openai", "mistral_common", "httpx", "httpx2")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(AUDIO.glob("*.py")), ids=lambda path: path.name)
def test_imports_nothing_of_agent_outside_the_audio_layer(path: Path) -> None:
    ours = {name for name in imported_modules(path) if name.split(".")[0] in ("agent", "tools")}
    outside = {name for name in ours if not name.startswith("agent.audio")} - ALLOWED_OUTSIDE
    assert not outside, f"{path.name} imports {sorted(outside)}"


def test_import_agent_audio_loads_no_http_stack_nor_mistral_common() -> None:
    code = (
        "import sys, agent.audio\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print(' '.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == []
