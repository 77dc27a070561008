"""`voxagent run --replay` in a real terminal (pexpect): approval prompts, timers, Ctrl-C.

(The panel updating and the screen left after Ctrl-C: `test_issue_scenarios.py`, in tmux.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pexpect
import pytest
import soundfile as sf

from agent.testing import ScriptedServer
from tests.cli.conftest import Terminal, voxagent_command

ANSI = r"(?:\x1b\[[0-9;]*m)*"
"""Colour codes a terminal gets between styled words."""


@pytest.fixture
def question_then_silence(speech: dict[str, Path], tmp_path: Path) -> Path:
    samples, rate = sf.read(speech["one"], dtype="int16")
    path = tmp_path / "question_then_silence.wav"
    sf.write(path, np.concatenate([samples, np.zeros(rate * 20, dtype=np.int16)]), rate)
    return path


def test_approval_prompt_and_a_timer_ringing(
    scripted_server: ScriptedServer,
    question_then_silence: Path,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    scripted_server.reply_tool_calls(
        ("add_note", {"text": "buy milk"}), ("set_timer", {"seconds": 2, "label": "tea"})
    )
    scripted_server.reply("Noted, and the tea timer is set.")
    child = _spawn_console(scripted_server, question_then_silence, env, tmp_path)
    try:
        child.expect(rf"Allow add_note\(text='buy milk'\)\?{ANSI} \[y/N\]")
        child.sendline("y")
        child.expect(rf"add_note\(text='buy milk'\){ANSI} → ")
        child.expect(rf"assistant{ANSI} Noted, and the tea timer is set\.")
        child.expect("⏰ timer 'tea' is ringing")
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 130


def test_ctrl_c_while_asking_for_approval(
    scripted_server: ScriptedServer,
    question_then_silence: Path,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    scripted_server.reply_tool_call("delete_note", {"note_id": 1})
    child = _spawn_console(scripted_server, question_then_silence, env, tmp_path)
    try:
        child.expect(rf"Allow delete_note\(note_id=1\)\?{ANSI} \[y/N\]")
        child.sendintr()
        child.expect(pexpect.EOF, timeout=10)  # does not wait for an answer
    finally:
        child.close(force=True)
    assert child.exitstatus == 130


def _spawn_console(
    server: ScriptedServer, audio: Path, env: dict[str, str], tmp_path: Path
) -> pexpect.spawn:
    """`voxagent run --replay` in a pseudo-terminal, as a person would start it."""
    env["TERM"] = "xterm-256color"
    command = voxagent_command()
    return pexpect.spawn(
        command[0],
        [*command[1:], "run", "--base-url", server.base_url,
         "--replay", str(audio), "--notes-db", str(tmp_path / "notes.db")],
        env=env, encoding="utf-8", timeout=30, dimensions=(30, 160),
    )  # fmt: skip


def test_the_console_updates_and_ctrl_c_leaves_a_clean_screen(
    scripted_server: ScriptedServer, speech: dict[str, Path], terminal: Terminal, tmp_path: Path
) -> None:
    samples, rate = sf.read(speech["one"], dtype="int16")
    recording = tmp_path / "question_then_silence.wav"
    sf.write(recording, np.concatenate([samples, np.zeros(rate * 30, dtype=np.int16)]), rate)
    scripted_server.transcribe_as("What is six times seven?")
    scripted_server.reply_tool_call("calculate", {"expression": "6*7"}).reply("Forty-two.")
    argv = [*voxagent_command(), "run", "--replay", str(recording)]
    command = " ".join([*argv, "--base-url", scripted_server.base_url])
    terminal.start(f"{command}; echo EXIT=$?; sleep 60")
    first = terminal.wait_for("○ listening")
    assert f"replaying {recording.name} · Ctrl-C quits" in first
    assert "dBFS" in first or "silence" in first  # the level meter
    terminal.wait_for("● hearing")  # the panel follows the recording as it plays
    terminal.wait_for("assistant Forty-two.")
    # The transcript is made beside the turn (issue 8, 1.6): it is shown when it comes.
    turn = terminal.wait_for("heard: What is six times seven?")
    assert "calculate(expression='6*7') → 42" in turn
    terminal.wait_for("○ listening")
    terminal.press("C-c")
    final = terminal.wait_for("EXIT=130")
    assert "voxagent: interrupted" in final
    assert "Traceback" not in final
    # The live panel is gone, border and all: only the conversation's lines stay.
    assert not any(line.lstrip().startswith(("╭", "│", "╰")) for line in final.splitlines())
    assert "assistant Forty-two." in final


def test_log_lines_are_printed_above_the_live_panel(
    scripted_server: ScriptedServer, speech: dict[str, Path], terminal: Terminal, tmp_path: Path
) -> None:
    """A retry warning logged while the panel is shown is one line above it: written straight
    to the terminal it would split the panel, and the next refresh would draw it again."""
    samples, rate = sf.read(speech["one"], dtype="int16")
    recording = tmp_path / "question_then_silence.wav"
    sf.write(recording, np.concatenate([samples, np.zeros(rate * 30, dtype=np.int16)]), rate)
    scripted_server.fail(503, "the engine is restarting").reply("Forty-two.")
    argv = [*voxagent_command(), "run", "--replay", str(recording)]
    command = " ".join([*argv, "--base-url", scripted_server.base_url])
    terminal.start(f"{command}; echo EXIT=$?; sleep 60")
    terminal.wait_for("assistant Forty-two.")
    lines = terminal.wait_for("○ listening").splitlines()
    warnings = [n for n, line in enumerate(lines) if "WARNING agent.client" in line]
    assert len(warnings) == 1, lines
    (warning,) = warnings
    assert lines[warning].startswith("voxagent: WARNING agent.client: POST /chat/completions")
    reply = next(n for n, line in enumerate(lines) if line.startswith("assistant Forty-two."))
    tops = [n for n, line in enumerate(lines) if line.lstrip().startswith("╭")]
    assert len(tops) == 1, "\n".join(lines)  # the panel is drawn once, below the lines
    assert warning < reply < tops[0]
    terminal.press("C-c")
    assert "voxagent: interrupted" in terminal.wait_for("EXIT=130")
