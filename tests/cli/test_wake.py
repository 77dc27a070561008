"""`--wake-word` and `--push-to-talk` as a person meets them: `replay` of a WAV file, the
console in a real terminal (tmux), and the one-line errors."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import soundfile as sf

from agent.audio import SAMPLE_RATE
from agent.cli import ExitCode
from agent.testing import ScriptedServer
from tests.cli.conftest import Terminal, one_error_line, run_voxagent, voxagent_command
from tests.listening.test_wake import (
    FOLLOW_UP,
    NO_WAKE_WORD,
    ONE_BREATH,
    conversation,
    piper_phrases,
)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """WAV files of Piper's voice: `woken` (a command without the wake word, then one with
    it in the same breath) and `breath` (the one-breath command, then a long silence)."""
    pytest.importorskip("pymicro_wakeword")
    phrases = piper_phrases()
    folder = tmp_path_factory.mktemp("wake")
    made = {
        "woken": conversation(phrases, 1.0, NO_WAKE_WORD, 1.5, ONE_BREATH, 1.5),
        "breath": conversation(phrases, 1.0, ONE_BREATH, 30.0),
        "question": conversation(phrases, 0.5, FOLLOW_UP, 30.0),
    }
    paths = {}
    for name, (pcm, _) in made.items():
        paths[name] = folder / f"{name}.wav"
        sf.write(paths[name], pcm, SAMPLE_RATE)
    return paths


def test_replay_json_has_only_the_woken_turn(
    scripted_server: ScriptedServer, recordings: dict[str, Path], env: dict[str, str]
) -> None:
    scripted_server.reply("Timer set for five minutes.")
    done = run_voxagent(
        "replay", str(recordings["woken"]), "--wake-word", "hey_jarvis", "--json",
        "--base-url", scripted_server.base_url, env=env,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    [record] = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["text"] == "Timer set for five minutes."
    # The second phrase (4.2-6.8 s), not the first one, said without the wake word.
    assert 4.0 < record["utterance"]["start"] < 4.4 < 6.4 < record["utterance"]["end"]
    assert [request.audio_count for request in scripted_server.requests] == [1]


def test_replay_lines_say_asleep_dropped_and_awake(
    scripted_server: ScriptedServer, recordings: dict[str, Path], env: dict[str, str]
) -> None:
    scripted_server.reply("Timer set for five minutes.")
    done = run_voxagent(
        "replay", str(recordings["woken"]), "--wake-word", "hey_jarvis", "--wake-window", "0",
        "--base-url", scripted_server.base_url, env=env,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()[1:]
    assert lines[0] == "◌ asleep from 0.0 s: say “hey jarvis” to wake it"
    assert lines[1].startswith("! dropped 1.")
    assert lines[1].endswith(
        "asleep: the wake word 'hey jarvis' was not heard (say it first, or in the same breath)"
    )
    assert lines[2].startswith("◉ awake at 5.") and lines[2].endswith("heard “hey jarvis”")
    assert lines[3].startswith("you (turn 1: ")
    assert "assistant Timer set for five minutes." in lines


def test_without_the_wake_extra_one_line_says_how_to_install_it(
    recordings: dict[str, Path], env: dict[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "blocked"
    blocker.mkdir()
    (blocker / "pymicro_wakeword.py").write_text("raise ImportError('blocked by the test')\n")
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), env.get("PYTHONPATH", "")])
    done = run_voxagent("replay", str(recordings["woken"]), "--wake-word", "alexa", env=env)
    assert one_error_line(done, ExitCode.NOT_INSTALLED) == (
        "voxagent: error: --wake-word alexa: the wake word detector cannot run here, "
        "pymicro-wakeword is missing: install it with pip install 'voxtral-agent[wake]' (its "
        "wheels exist for Linux x86_64/aarch64 and Windows)"
    )


def test_usage_errors(recordings: dict[str, Path], env: dict[str, str]) -> None:
    clip = str(recordings["woken"])
    window = run_voxagent("replay", clip, "--wake-window", "3", env=env)
    assert one_error_line(window, ExitCode.USAGE) == (
        "voxagent: error: --wake-window is the window of --wake-word: give both"
    )
    no_terminal = run_voxagent("run", "--replay", clip, "--push-to-talk", env=env)
    assert one_error_line(no_terminal, ExitCode.USAGE).startswith(
        "voxagent: error: --push-to-talk reads the Space and Enter keys of a terminal"
    )
    both = run_voxagent("run", "--replay", clip, "--push-to-talk", "--wake-word", "alexa", env=env)
    assert both.code == ExitCode.USAGE
    assert "argument --wake-word: not allowed with argument --push-to-talk" in both.stderr
    unknown = run_voxagent("replay", clip, "--wake-word", "hey_google", env=env)
    assert unknown.code == ExitCode.USAGE and "invalid choice: 'hey_google'" in unknown.stderr


def start_console(terminal: Terminal, server: ScriptedServer, audio: Path, *args: str) -> None:
    """`voxagent run --replay AUDIO ARGS` in the terminal (which then shows its exit status)."""
    argv = [*voxagent_command(), "run", "--replay", str(audio), *args]
    terminal.start(" ".join([*argv, "--base-url", server.base_url, "; echo EXIT=$?; sleep 60"]))


def test_the_console_shows_sleeping_awake_and_the_word_to_say(
    scripted_server: ScriptedServer, recordings: dict[str, Path], terminal: Terminal
) -> None:
    scripted_server.reply("Timer set for five minutes.")
    start_console(
        terminal, scripted_server, recordings["breath"], "--wake-word", "hey_jarvis",
        "--wake-window", "4",
    )  # fmt: skip
    first = terminal.wait_for("◌ sleeping")
    assert "(say “hey jarvis”)" in first
    assert "replaying breath.wav · say “hey jarvis”, then the command · Ctrl-C quits" in first
    terminal.wait_for("◉ awake at 1.")
    terminal.wait_for("assistant Timer set for five minutes.")
    terminal.wait_for("○ listening (awake)")  # the window: 4 s after the turn
    asleep_again = terminal.wait_for("◌ sleeping")
    assert asleep_again.count("◌ asleep from ") == 2  # at 0 s, and when the window closed
    terminal.press("C-c")
    assert "Traceback" not in terminal.wait_for("EXIT=130")


def test_push_to_talk_in_the_console_makes_one_turn(
    scripted_server: ScriptedServer, recordings: dict[str, Path], terminal: Terminal
) -> None:
    scripted_server.reply("It is noon.")
    start_console(terminal, scripted_server, recordings["question"], "--push-to-talk")
    first = terminal.wait_for("○ press Space or Enter to talk")
    assert "Space or Enter to talk, again to send · Ctrl-C quits" in first
    terminal.press("Space")
    terminal.wait_for("● talking (Space or Enter to send)")
    time.sleep(1.0)  # the user talks for a second (a press under 0.2 s is dropped as a slip)
    terminal.press("Enter")
    screen = terminal.wait_for("assistant It is noon.")
    assert screen.count("you (turn ") == 1
    assert "○ press Space or Enter to talk" in terminal.wait_for("○ press Space")
    terminal.press("C-c")
    assert "Traceback" not in terminal.wait_for("EXIT=130")
    scripted_server.verify()
