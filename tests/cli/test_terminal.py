"""`voxagent run --replay` in a real terminal (pexpect): approval prompts, timers, Ctrl-C.

(The panel updating and the screen left after Ctrl-C: `test_issue_scenarios.py`, in tmux.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pexpect
import pytest
import soundfile as sf

from agent.testing import ScriptedServer
from tests.cli.conftest import voxagent_command

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
