"""The example apps start, handle a replayed recording, and exit cleanly (scripted server)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.testing import ScriptedServer

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
    assert lines[0] == "Listening (model voxtral-scripted). Ctrl-C quits."
    assert lines[1].startswith('  [set_timer] {"id":1,"kind":"timer","label":"tea"')
    assert lines[2].startswith("  [roll_dice] [")
    assert lines[3:] == [
        "you said: Set a timer for ten minutes.",
        "assistant: Your tea timer is set.",
    ]


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
