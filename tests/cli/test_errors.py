"""Each failure a user meets is ONE line on stderr and a documented exit code, never a traceback."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.cli import ExitCode
from agent.testing import ScriptedServer
from tests.cli.conftest import EXAMPLE, Done, free_port, one_error_line, run_voxagent

CLIP = EXAMPLE
"""A recording, so `run` needs no microphone in these tests."""


def one_line(done: Done, code: ExitCode) -> str:
    line = one_error_line(done, code)
    assert line.startswith("voxagent: error: ")
    return line.removeprefix("voxagent: error: ")


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--replay", "__SPEECH__"],
        ["replay", "__SPEECH__"],
        ["transcribe", "__SPEECH__"],
        ["ask", "__SPEECH__", "Who speaks?"],
    ],
)
def test_no_server(command: list[str], tmp_path: Path, speech: dict[str, Path]) -> None:
    from tests.cli.conftest import clean_env

    url = f"http://127.0.0.1:{free_port()}/v1"
    argv = [str(speech["one"]) if part == "__SPEECH__" else part for part in command]
    started = time.monotonic()
    # The URL comes from VOXAGENT_BASE_URL: every server command reads it (--base-url is
    # exercised by the other tests).
    done = run_voxagent(*argv, env=clean_env(tmp_path, VOXAGENT_BASE_URL=url))
    assert time.monotonic() - started < 15  # fails fast: no long retry loop
    assert one_line(done, ExitCode.SERVER_UNAVAILABLE) == (
        f"no vLLM server answers at {url} (Connection refused): start one with `voxagent serve` "
        "(or `voxagent run "
        "--serve`), or point --base-url (or VOXAGENT_BASE_URL) at a running one"
    )


def test_wrong_url(scripted_server: ScriptedServer, env: dict[str, str]) -> None:
    root = scripted_server.base_url.removesuffix("/v1")
    done = run_voxagent("run", "--replay", CLIP, "--base-url", root, env=env)
    assert one_line(done, ExitCode.SERVER_UNAVAILABLE) == (
        f"{root} is not a vLLM API root (HTTP 404 for {root}/models): the URL usually ends "
        "in /v1, such as http://127.0.0.1:8000/v1"
    )


def test_model_not_served(scripted_server: ScriptedServer, env: dict[str, str]) -> None:
    done = run_voxagent(
        "run", "--replay", CLIP, "--base-url", scripted_server.base_url, "--model", "big", env=env
    )
    assert one_line(done, ExitCode.SERVER_UNAVAILABLE) == (
        f"model 'big' is not served at {scripted_server.base_url}; it serves voxtral-scripted: "
        "pass --model voxtral-scripted (or leave --model out)"
    )


def test_tool_calling_disabled(env: dict[str, str]) -> None:
    with ScriptedServer(tool_calling=False) as server:
        url = server.base_url
        done = run_voxagent("run", "--replay", CLIP, "--base-url", url, env=env)
    line = one_line(done, ExitCode.SERVER_UNAVAILABLE)
    assert line.startswith(f"tool calling is off on the server at {url}")
    assert line.endswith(
        "restart vLLM with --enable-auto-tool-choice --tool-call-parser mistral "
        "(`voxagent serve` does)"
    )


def test_bad_tools_module(scripted_server: ScriptedServer, env: dict[str, str]) -> None:
    done = run_voxagent(
        "run",
        "--replay",
        CLIP,
        "--base-url",
        scripted_server.base_url,
        "--tools",
        "my_missing_tools:box",
        env=env,
    )
    assert one_line(done, ExitCode.BAD_INPUT) == (
        "--tools my_missing_tools:box: no module named 'my_missing_tools' (run voxagent from "
        "the folder that holds it, or give a file such as ./my_tools.py)"
    )
    assert scripted_server.all_requests == []  # found out before contacting the server


def test_no_microphone(scripted_server: ScriptedServer, env: dict[str, str]) -> None:
    env["PULSE_SERVER"] = "unix:/nonexistent"  # no sound server, no sound card
    done = run_voxagent("run", "--base-url", scripted_server.base_url, env=env)
    assert one_line(done, ExitCode.AUDIO_DEVICE) == (
        "no audio input device found: plug in a microphone (or start PulseAudio/PipeWire), "
        "or use --replay FILE"
    )
    assert scripted_server.all_requests == []  # found out before contacting the server


def test_devices_without_any(env: dict[str, str]) -> None:
    env["PULSE_SERVER"] = "unix:/nonexistent"  # no sound server, no sound card
    done = run_voxagent("devices", env=env)
    assert one_line(done, ExitCode.AUDIO_DEVICE).startswith("no audio input device found")


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ("transcribe", "missing"),
        ("ask", "not audio"),
        ("replay", "missing"),
        ("run --replay", "not audio"),
    ],
)
def test_unreadable_file(
    command: str, kind: str, scripted_server: ScriptedServer, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "talk.wav"
    if kind == "not audio":
        path.write_text("these are not the samples you are looking for")
    argv = [*command.split(), str(path)]
    if command == "ask":
        argv.append("What is said?")
    done = run_voxagent(*argv, "--base-url", scripted_server.base_url, env=env)
    line = one_line(done, ExitCode.BAD_INPUT)
    assert line.startswith(str(path))
    assert ("no such file" if kind == "missing" else "not readable audio") in line
    assert scripted_server.all_requests == []  # nothing was sent


def test_unknown_tool_choice(scripted_server: ScriptedServer, env: dict[str, str]) -> None:
    done = run_voxagent(
        "run", "--replay", CLIP, "--base-url", scripted_server.base_url, "--tool-choice", "fly",
        "--tools", "tests.cli.sample_tools.decorated",
        env=env, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert one_line(done, ExitCode.USAGE) == (
        "--tool-choice fly: use auto, none, required or a tool name (add, shout)"
    )
    assert scripted_server.all_requests == []


def test_unwritable_log(
    scripted_server: ScriptedServer, env: dict[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = run_voxagent(
        "run", "--replay", CLIP, "--base-url", scripted_server.base_url,
        "--log", str(blocker / "talk.jsonl"),
        env=env,
    )  # fmt: skip
    assert one_line(done, ExitCode.BAD_INPUT).startswith(f"--log {blocker / 'talk.jsonl'}: ")


def test_bad_tools_are_found_before_the_server_is_contacted(
    scripted_server: ScriptedServer, env: dict[str, str], tmp_path: Path
) -> None:
    tools = tmp_path / "my_tools.py"
    tools.write_text("from tools import tool\n\n@tool\ndef ping() -> str:\n    return 'pong'\n")
    done = run_voxagent(
        "replay", EXAMPLE, "--base-url", scripted_server.base_url, "--tools", f"{tools}:nope",
        env=env,
    )  # fmt: skip
    assert one_error_line(done, ExitCode.BAD_INPUT) == (
        f"voxagent: error: --tools {tools}:nope: {tools} has no attribute 'nope'"
    )
    assert scripted_server.all_requests == []


def test_an_unresolvable_host_is_named_in_the_line(env: dict[str, str]) -> None:
    url = "http://no-such-host.invalid:8000/v1"
    done = run_voxagent("transcribe", CLIP, "--base-url", url, env=env)
    assert one_line(done, ExitCode.SERVER_UNAVAILABLE).startswith(
        f"no vLLM server answers at {url} (Name or service not known): start one with"
    )


def test_https_to_a_plain_http_server_says_tls(
    scripted_server: ScriptedServer, env: dict[str, str]
) -> None:
    url = scripted_server.base_url.replace("http://", "https://")
    line = one_line(run_voxagent("transcribe", CLIP, "--base-url", url, env=env), 3)
    assert line.startswith(f"no vLLM server answers at {url} (TLS/SSL error: ")
    assert "is the server plain http://?" in line


def test_silero_missing_says_how_a_cli_user_installs_it(env: dict[str, str], tmp_path: Path):
    blocker = tmp_path / "blocked"
    blocker.mkdir()
    (blocker / "onnxruntime.py").write_text("raise ImportError('blocked by the test')\n")
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), env.get("PYTHONPATH", "")])
    done = run_voxagent("run", "--vad", "silero", "--replay", CLIP, env=env)
    assert one_line(done, ExitCode.NOT_INSTALLED) == (
        "--vad silero: Silero VAD cannot run here, onnxruntime is missing: install it with "
        "pip install 'voxtral-agent[silero]' and pip install --no-deps silero-vad; or use "
        "--vad webrtc"
    )


@pytest.fixture(scope="module")
def long_recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """590 s (one item, but too long for a 4096-token context) and 700 s (over 600 s)."""
    folder = tmp_path_factory.mktemp("long")
    made = {}
    for seconds in (590, 700):
        path = folder / f"{seconds}s.wav"
        sf.write(path, np.zeros(16000 * seconds, dtype=np.int16), 16000)
        made[f"{seconds}s"] = path
    return made


@pytest.mark.parametrize("command", ["ask"])  # transcribe takes any length (issue 12)
@pytest.mark.parametrize(
    "length",
    ["700s", "590s"],
)
def test_audio_too_long_is_bad_input_everywhere(
    command: str, length: str, long_recordings: dict[str, Path], env: dict[str, str]
) -> None:
    """One rule: too long for an item OR for the server's context is bad input (4), found
    before anything is sent."""
    with ScriptedServer(max_model_len=4096) as server:
        argv = [command, str(long_recordings[length]), "--base-url", server.base_url]
        done = run_voxagent(*argv, *(["What is said?"] if command == "ask" else []), env=env)
        assert server.requests == [] and server.transcriptions == []
    assert str(long_recordings[length]) in one_line(done, ExitCode.BAD_INPUT)


@pytest.mark.parametrize("length", ["700s", "590s"])
def test_transcribe_takes_any_length_and_sends_no_silence(
    length: str, long_recordings: dict[str, Path], env: dict[str, str]
) -> None:
    """Long silent recordings are cut into pieces the 4096-token server holds; pieces with no
    speech are never sent, so the transcript is empty (said on stderr), exit status 0."""
    with ScriptedServer(max_model_len=4096) as server:
        argv = ["transcribe", str(long_recordings[length]), "--base-url", server.base_url]
        done = run_voxagent(*argv, env=env)
        assert server.transcriptions == []
    assert done.code == 0 and "the transcript is empty" in done.stderr
