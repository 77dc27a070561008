"""`--tools`: every accepted shape, and a one-line error for each refusal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.cli import ExitCode
from agent.cli._exit import CliError
from agent.cli._tools_loader import load_tools

SAMPLES = "tests.cli.sample_tools"


def test_a_module_gives_its_tool_functions() -> None:
    box = load_tools(f"{SAMPLES}.decorated")
    assert box.names == ["add", "shout"]
    assert box.approve is None  # the CLI adds its approver


def test_a_toolbox_is_used_as_it_is() -> None:
    box = load_tools(f"{SAMPLES}.shapes:box")
    assert box.names == ["word_count"] and box.default_timeout == 5.0
    assert box.approve is not None


@pytest.mark.parametrize(
    ("attribute", "names"),
    [
        ("listed", ["word_count", "calculate"]),
        ("single", ["calculate"]),
        ("make_tools", ["calculate"]),
    ],
)
def test_lists_tools_and_factories(attribute: str, names: list[str]) -> None:
    assert load_tools(f"{SAMPLES}.shapes:{attribute}").names == names


def test_the_builtins_can_be_named() -> None:
    assert "calculate" in load_tools("tools.builtin:default_tools").names


def test_a_file_path(tmp_path: Path) -> None:
    path = tmp_path / "my_tools.py"
    path.write_text(
        "from tools import tool\n\n@tool\ndef ping() -> str:\n    '''Ping.'''\n    return 'pong'\n"
    )
    assert load_tools(str(path)).names == ["ping"]
    assert load_tools(f"{path}:ping").names == ["ping"]
    message = f"--tools {path}:nope: {path} has no attribute 'nope'"
    with pytest.raises(CliError, match=f"^{re.escape(message)}$"):
        load_tools(f"{path}:nope")  # named by its path, not by the module name made for it


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz", "no module named 'no_such_module_xyz' (run voxagent from the "
         "folder that holds it, or give a file such as ./my_tools.py)"),
        (f"{SAMPLES}.broken", "importing it failed: RuntimeError: config file missing"),
        (f"{SAMPLES}.empty", f"module '{SAMPLES}.empty' defines no @tool functions"),
        (f"{SAMPLES}.shapes:missing", f"module '{SAMPLES}.shapes' has no attribute 'missing'"),
        (f"{SAMPLES}.shapes:number", "it is an int, not a Toolbox, a tool, or a non-empty list"),
        (f"{SAMPLES}.shapes:empty", "it is an empty list, not a Toolbox"),
        (f"{SAMPLES}.shapes:needs_argument", "it is a function, not a Toolbox"),
        (f"{SAMPLES}.shapes:broken_factory", "calling it failed: RuntimeError: database is down"),
        (f"{SAMPLES}.shapes:duplicates", "duplicate tool name 'calculate'"),
        ("./nowhere/tools.py", "no such file: nowhere/tools.py"),
        (":box", "give a module or a file"),
    ],
)  # fmt: skip
def test_refusals_are_one_line_with_the_reason(spec: str, message: str) -> None:
    with pytest.raises(CliError) as caught:
        load_tools(spec)
    assert caught.value.code == ExitCode.BAD_INPUT
    assert caught.value.message.startswith(f"--tools {spec}: ")
    assert message in caught.value.message
    assert "\n" not in caught.value.message
