"""The example apps start, handle a replayed recording, and exit cleanly (scripted server);
without a microphone or a server, or after a failed turn, they end as `voxagent` does: one
line and its exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import ExitCode
from agent.testing import ScriptedServer
from tests.cli.conftest import free_port

EXAMPLES = Path(__file__).parents[2] / "examples"


def run_example(name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_desktop_assistant(scripted_server: ScriptedServer, env: dict[str, str]) -> None:
    scripted_server.transcribe_as("Set a timer for ten minutes.")
    scripted_server.reply_tool_calls(
        ("set_timer", {"minutes": 10, "label": "tea"}), ("roll_dice", {"sides": 6})
    )
    scripted_server.reply("Your tea timer is set.")
    done = run_example(
        "desktop_assistant.py", "--base-url", scripted_server.base_url,
        "--replay", str(EXAMPLES / "audio" / "timer.wav"),
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # the transcript is made beside the turn: it comes whenever the server gives it
    heard = "you said: Set a timer for ten minutes."
    assert lines.count(heard) == 1
    lines.remove(heard)
    assert lines[0] == "Listening (model voxtral-scripted). Ctrl-C quits."
    assert lines[1].startswith('  [set_timer] {"id":1,"kind":"timer","label":"tea"')
    assert lines[2].startswith("  [roll_dice] [")
    assert lines[3:] == ["assistant: Your tea timer is set."]


def test_embed_in_app(scripted_server: ScriptedServer, env: dict[str, str]) -> None:
    scripted_server.reply_tool_call("set_light", {"room": "kitchen", "on": True})
    scripted_server.reply("The kitchen light is on.")
    done = run_example(
        "embed_in_app.py", "--base-url", scripted_server.base_url,
        "--replay", str(EXAMPLES / "audio" / "kitchen_lights.wav"),
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "[home] lights: kitchen off, living room off, bedroom off | thermostat 20 °C",
        "[mic] hearing you...",
        "[app] set_light {'room': 'kitchen', 'on': True}",
        "[home] lights: kitchen on, living room off, bedroom off | thermostat 20 °C",
        "[say] The kitchen light is on.",
    ]


@pytest.mark.parametrize("name", ["desktop_assistant.py", "embed_in_app.py"])
def test_without_a_microphone_an_example_fails_in_one_line(
    name: str, scripted_server: ScriptedServer, env: dict[str, str]
) -> None:
    env["PULSE_SERVER"] = "unix:/nonexistent"  # no sound server, no sound card
    done = run_example(name, "--base-url", scripted_server.base_url, env=env)
    assert done.returncode == ExitCode.AUDIO_DEVICE, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"{Path(name).stem}: error: ")


@pytest.mark.parametrize("name", ["desktop_assistant.py", "embed_in_app.py"])
def test_an_example_with_a_failed_turn_exits_1(
    name: str, scripted_server: ScriptedServer, env: dict[str, str]
) -> None:
    scripted_server.fail(400, "This model's maximum context length is 32768 tokens.")
    audio = "timer.wav" if name.startswith("desktop") else "kitchen_lights.wav"
    done = run_example(
        name, "--base-url", scripted_server.base_url, "--replay", str(EXAMPLES / "audio" / audio),
        env=env,
    )  # fmt: skip
    assert done.returncode == ExitCode.FAILURE, done.stderr
    assert "maximum context length" in done.stdout and "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["desktop_assistant.py", "embed_in_app.py"])
def test_an_example_without_a_server_fails_at_once_as_the_cli_does(
    name: str, env: dict[str, str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    done = run_example(name, "--base-url", url, "--replay", str(EXAMPLES / "audio" / "timer.wav"),
                       env=env)  # fmt: skip
    assert done.returncode == ExitCode.SERVER_UNAVAILABLE
    assert done.stderr.splitlines() == [
        f"{Path(name).stem}: error: no vLLM server answers at {url} (Connection refused): start "
        "one with `voxagent serve` (or `voxagent run --serve`), or point --base-url (or "
        "VOXAGENT_BASE_URL) at a running one"
    ]
    # The retry policy of the command line (one attempt for the check), not a retry storm:
    # nothing waited for a backoff (`retry ... in` would be logged before each retry).
    assert "retry" not in done.stderr


def test_a_missing_recording_is_bad_input(scripted_server: ScriptedServer, env: dict[str, str]):
    done = run_example("desktop_assistant.py", "--base-url", scripted_server.base_url,
                       "--replay", "/nonexistent.wav", env=env)  # fmt: skip
    assert done.returncode == ExitCode.BAD_INPUT
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
