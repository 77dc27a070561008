"""`voxagent serve` as a process, with a fake `vllm` standing in for the real one."""

from __future__ import annotations

import json
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.cli import ExitCode
from agent.testing import ScriptedServer
from tests.cli.conftest import (
    EXAMPLE,
    clean_env,
    free_port,
    one_error_line,
    run_voxagent,
    voxagent_command,
)
from tests.cli.test_vllm import FAKE_VLLM

FAKE = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_VLLM))}"


def test_print_shows_the_exact_command(env: dict[str, str]) -> None:
    done = run_voxagent(
        "serve", "--print", "--port", "8123", "--vllm", "/opt/vllm", "--", "--enforce-eager",
        env=env,
    )  # fmt: skip
    assert done.code == 0
    command = shlex.split(done.stdout)
    assert command[:3] == ["/opt/vllm", "serve", "RedHatAI/Voxtral-Mini-3B-2507-FP8-dynamic"]
    assert command[-1] == "--enforce-eager"
    assert command[command.index("--port") + 1] == "8123"
    assert command[command.index("--limit-mm-per-prompt") + 1] == '{"audio": 5}'


def test_without_vllm_it_says_how_to_install(env: dict[str, str], tmp_path: Path) -> None:
    env["PATH"] = str(tmp_path)  # no vllm (nor nvidia-smi) on PATH, none importable
    done = run_voxagent("serve", "--no-gpu-check", env=env)
    assert done.code == 6
    assert done.error_lines == [
        "voxagent: error: vLLM is not installed here: pip install 'voxtral-agent[serve]' "
        "(Linux with an NVIDIA GPU); or give its command with --vllm (or $VOXAGENT_VLLM); "
        "or use a server elsewhere with --base-url"
    ]


def test_without_a_gpu_it_says_so(env: dict[str, str], tmp_path: Path) -> None:
    env["PATH"] = str(tmp_path)
    done = run_voxagent("serve", "--vllm", FAKE, env=env)
    assert done.code == 6
    assert len(done.error_lines) == 1
    assert done.error_lines[0].startswith("voxagent: error: no NVIDIA GPU found")
    assert "--no-gpu-check" in done.error_lines[0]


def test_make_run_without_a_gpu_says_so_first(env: dict[str, str], tmp_path: Path) -> None:
    """`make run` on a machine with no GPU: no vLLM installed, no microphone either. The GPU is
    what to hear about (installing vLLM would not help), at once and before the microphone."""
    env["PATH"] = str(tmp_path)
    env["PULSE_SERVER"] = "unix:/nonexistent"
    done = run_voxagent("run", "--serve", "--port", str(free_port()), env=env)
    assert done.code == 6, done.stderr
    assert done.error_lines == [
        "voxagent: error: no NVIDIA GPU found (nvidia-smi lists none): vLLM needs one to serve "
        "Voxtral; use a server on another machine with --base-url URL (instead of --serve), or "
        "pass --no-gpu-check for a CPU build of vLLM"
    ]


def start_serving(
    tmp_path: Path, *extra: str, mode: str = "ok"
) -> tuple[subprocess.Popen[str], int, Path]:
    """`voxagent serve` with the fake vLLM, once it said it is ready; its port and record."""
    record = tmp_path / "record"
    env = clean_env(tmp_path, FAKE_VLLM_RECORD=str(record), FAKE_VLLM_MODE=mode)
    port = free_port()
    command = [*voxagent_command(), "serve", "--vllm", FAKE, "--no-gpu-check"]
    command += ["--port", str(port), *extra]
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if "vLLM is ready" in line or not line:
            break
    assert "vLLM is ready at" in lines[-1], lines
    return process, port, record


@pytest.mark.parametrize(
    ("stop", "code", "said"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_serves_until_stopped_then_stops_vllm(
    tmp_path: Path, stop: signal.Signals, code: int, said: str
) -> None:
    log = tmp_path / "vllm.log"
    process, port, record = start_serving(
        tmp_path, "--server-log", str(log), "--served-model-name", "vox"
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        process.send_signal(stop)
        _, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code
    assert rest.splitlines()[-2:] == ["stopping vLLM...", f"voxagent: {said}"]
    argv, stopped_by = record.read_text().split("\n", 1)
    assert json.loads(argv)[json.loads(argv).index("--served-model-name") + 1] == "vox"
    assert stopped_by.strip() == "SIGINT"  # vLLM is always asked gently first
    assert "Application startup complete" in log.read_text()


def test_a_second_ctrl_c_kills_the_whole_vllm_group_at_once(tmp_path: Path) -> None:
    """vLLM ignores the first Ctrl-C (it is busy): a second one must not leave it running."""
    process, _, record = start_serving(tmp_path, mode="stubborn")
    try:
        group = [int(pid) for pid in Path(f"{record}.pids").read_text().split()]
        process.send_signal(signal.SIGINT)
        wait_until(lambda: "SIGINT" in record.read_text())  # the stop is under way
        process.send_signal(signal.SIGINT)
        # Without the escalation the stop would wait 2 x 20 s before its SIGKILL.
        _, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert rest.splitlines()[-2:] == ["stopping vLLM...", "voxagent: interrupted"]
    wait_until(lambda: not any(alive(pid) for pid in group))  # leader and worker


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def test_run_serve_stops_the_server_it_started(tmp_path: Path) -> None:
    record = tmp_path / "record"
    env = clean_env(tmp_path, FAKE_VLLM_RECORD=str(record))
    port = free_port()
    done = run_voxagent(
        "run", "--serve", "--vllm", FAKE, "--no-gpu-check", "--port", str(port),
        "--base-url", f"http://127.0.0.1:{port}/v1",
        "--replay", str(Path(__file__).parents[2] / "examples" / "audio" / "timer.wav"),
        env=env,
    )  # fmt: skip
    # The fake answers /health and /models but not chat: the tool-calling check fails.
    assert done.code == 3
    assert done.error_lines[-1].startswith(
        f"voxagent: error: the server at http://127.0.0.1:{port}/v1 failed the check with HTTP 501"
    )
    assert "stopping vLLM..." in done.stderr
    assert record.read_text().split("\n", 1)[1].strip() == "SIGINT"


def test_run_serve_reuses_a_running_server(
    scripted_server: ScriptedServer, env: dict[str, str], tmp_path: Path
) -> None:
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(16000, dtype=np.int16), 16000)
    done = run_voxagent(
        "run", "--serve", "--vllm", "/nonexistent/vllm", "--port", str(scripted_server.port),
        "--replay", str(quiet), "--fast",
        env=env,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert "using the vLLM server already running at " + scripted_server.base_url in done.stderr
    assert "0 turns answered" in done.stdout


def test_a_crashing_vllm_is_one_line_and_the_log_tail(tmp_path: Path) -> None:
    env = clean_env(tmp_path, FAKE_VLLM_RECORD=str(tmp_path / "r"), FAKE_VLLM_MODE="crash")
    done = run_voxagent(
        "serve", "--vllm", FAKE, "--no-gpu-check", "--port", str(free_port()), env=env
    )
    assert done.code == 1
    assert "ERROR CUDA out of memory (fake)" in done.stderr
    last = done.error_lines[-1]
    assert last.startswith("voxagent: error: vLLM exited with status 3; full log: ")
    assert last.endswith(".log")
    assert Path(last.rsplit(" ", 1)[1]).is_file()


def test_a_port_in_use_is_refused(env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_voxagent("serve", "--vllm", FAKE, "--no-gpu-check", "--port", str(port), env=env)
    assert done.code == 1
    assert done.error_lines == [
        f"voxagent: error: port {port} on 127.0.0.1 is taken by another program; "
        "pick another with --port"
    ]


@pytest.mark.parametrize("flag", ["--print"])
def test_print_needs_nothing_installed(flag: str, env: dict[str, str], tmp_path: Path) -> None:
    env["PATH"] = str(tmp_path)
    done = run_voxagent("serve", flag, env=env)
    assert done.code == 0 and done.stdout.startswith("vllm serve ")


def test_a_vllm_command_that_does_not_exist(env: dict[str, str]) -> None:
    done = run_voxagent(
        "serve", "--vllm", "/nonexistent/vllm", "--no-gpu-check", "--port", str(free_port()),
        env=env,
    )  # fmt: skip
    assert done.code == 6
    assert done.error_lines[-1] == (
        "voxagent: error: cannot start vLLM ([Errno 2] No such file or directory: "
        "'/nonexistent/vllm'); check --vllm (or $VOXAGENT_VLLM) and --server-log"
    )


def test_bad_tools_stop_run_serve_before_vllm_starts(env: dict[str, str]) -> None:
    done = run_voxagent(
        "run", "--serve", "--no-gpu-check", "--vllm", "/nonexistent/vllm",
        "--port", str(free_port()), "--replay", EXAMPLE, "--tools", "no_such_module",
        env=env,
    )  # fmt: skip
    # A start would have failed with "cannot start vLLM" (exit 6): it was never tried.
    assert "--tools no_such_module: no module named" in one_error_line(done, ExitCode.BAD_INPUT)
