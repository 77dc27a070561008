"""The names `tools` and `tools.builtin` export are a contract; `import tools` stays light."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

import tools
import tools.builtin

ROOT = Path(__file__).resolve().parents[2]

TOOLS_API = [
    "DONE",
    "NAME_PATTERN",
    "NO_OUTPUT",
    "Approver",
    "ErrorKind",
    "MCPServer",
    "Tool",
    "ToolCallSpec",
    "ToolContext",
    "ToolError",
    "ToolFinishedHook",
    "ToolResult",
    "ToolRetry",
    "ToolStartedHook",
    "Toolbox",
    "parse_arguments",
    "tool",
]

BUILTIN_API = [
    "CalculatorError",
    "Note",
    "NoteNotFoundError",
    "NotesStore",
    "Timer",
    "TimerListener",
    "TimerService",
    "calculate",
    "convert_time",
    "default_notes_path",
    "default_tools",
    "evaluate",
    "find_timezone",
    "get_current_time",
    "notes_tools",
    "system_info",
    "timer_tools",
    "user_data_dir",
]


def _public_names(module: types.ModuleType) -> set[str]:
    """What a user sees in the module: no private names, no submodules."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


@pytest.mark.parametrize(
    ("module", "expected"),
    [(tools, TOOLS_API), (tools.builtin, BUILTIN_API)],
    ids=["tools", "builtin"],
)
def test_exported_names_exactly(module: types.ModuleType, expected: list[str]) -> None:
    assert module.__all__ == expected  # a name added or removed fails here: update both
    for name in module.__all__:
        assert getattr(module, name) is not None


def test_tools_has_no_public_name_outside_all() -> None:
    assert _public_names(tools) == set(TOOLS_API)


HEAVY = [
    "agent",
    "mcp",
    "mcp_types",
    "anyio",
    "openai",
    "httpx",
    "httpx2",
    "numpy",
    "soundfile",
    "sounddevice",
    "mistral_common",
    "rich",
]


def test_import_tools_is_light() -> None:
    script = (
        "import json, sys, tools, tools.builtin; "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout) == []
