"""`voxagent run` on a microphone: a PulseAudio virtual microphone plays a spoken question."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from agent.testing import ScriptedServer
from tests.cli.conftest import clean_env, free_port, voxagent_command
from tests.virtual_mic import VirtualMicrophone

pytestmark = pytest.mark.pulse


def test_hears_the_microphone_and_answers(
    scripted_server: ScriptedServer,
    virtual_mic: VirtualMicrophone,
    speech: dict[str, Path],
    tmp_path: Path,
) -> None:
    scripted_server.transcribe_as("What is six times seven?")
    scripted_server.reply_tool_call("calculate", {"expression": "6*7"})
    scripted_server.reply("Forty-two.")
    env = clean_env(tmp_path)
    env.update({key: value for key, value in virtual_mic.env.items() if key.startswith("PULSE")})
    process = subprocess.Popen(
        [*voxagent_command(), "run", "--base-url", scripted_server.base_url],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        header = process.stdout.readline()
        assert "microphone default" in header, (header, process.stderr)
        time.sleep(1.0)  # the device opens
        virtual_mic.play(speech["one"])
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("assistant" in x for x in lines):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    text = "".join(lines)
    assert "you (turn 1: " in text, (text, errors)
    assert "⚙ calculate(expression='6*7') → 42" in text
    assert "assistant Forty-two." in text
    assert process.returncode == 130, errors
    assert errors.strip().splitlines()[-1] == "voxagent: interrupted"


def test_devices_lists_the_virtual_microphone(
    virtual_mic: VirtualMicrophone, tmp_path: Path
) -> None:
    env = clean_env(tmp_path)
    env.update({key: value for key, value in virtual_mic.env.items() if key.startswith("PULSE")})
    done = subprocess.run(
        [*voxagent_command(), "devices"], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    default = [line for line in done.stdout.splitlines() if line.startswith("*")]
    assert len(default) == 1 and "Hz)" in default[0]
    as_json = subprocess.run(
        [*voxagent_command(), "devices", "--json"], env=env, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    devices = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [device["is_default"] for device in devices].count(True) == 1
    assert all(device["default_sample_rate"] > 0 for device in devices)


def test_a_missing_device_is_named_with_the_ones_there(
    virtual_mic: VirtualMicrophone, tmp_path: Path
) -> None:
    env = clean_env(tmp_path)
    env.update({key: value for key, value in virtual_mic.env.items() if key.startswith("PULSE")})
    # vLLM and a GPU pass the instant checks; a start would fail (exit 6): it must not come to it.
    serve = ["--serve", "--no-gpu-check", "--vllm", "/nonexistent/vllm", "--port", str(free_port())]
    done = subprocess.run(
        [*voxagent_command(), "run", "--device", "no-such-microphone", *serve],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 5  # before --serve would start anything
    (line,) = done.stderr.splitlines()
    assert line.startswith("voxagent: error: no input device 'no-such-microphone'; the input ")
    assert line.endswith("(`voxagent devices`)")
