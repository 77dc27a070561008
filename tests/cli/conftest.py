"""Helpers for driving the real `voxagent` process: the command, its one-line errors, speech
clips, free ports, and a real terminal (tmux) to see the console as a person does."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.virtual_mic import virtual_mic

__all__ = [
    "EXAMPLE",
    "ROOT",
    "Done",
    "Terminal",
    "clean_env",
    "free_port",
    "one_error_line",
    "run_voxagent",
    "virtual_mic",
    "voxagent_command",
]

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
EXAMPLE = str(ROOT / "examples" / "audio" / "timer.wav")
"""A short recording, so commands need no microphone."""


def voxagent_command() -> list[str]:
    """The installed `voxagent` console script (else `python -m agent.cli`)."""
    script = Path(sys.executable).with_name("voxagent")
    return [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli"]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a test run: no inherited server URL, data kept under `tmp_path`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("VOXAGENT_")}
    env.update(
        VOXAGENT_DATA_DIR=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        COLUMNS="200",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass(frozen=True)
class Done:
    """A finished `voxagent` run."""

    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        """stderr's non-empty lines."""
        return [line for line in self.stderr.splitlines() if line.strip()]


def one_error_line(done: Done, code: int) -> str:
    """The one line on stderr of a run that failed with `code` (no traceback)."""
    assert done.code == code, (done.code, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert len(done.error_lines) == 1, done.stderr
    return done.error_lines[0]


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_voxagent(
    *args: str, env: dict[str, str], timeout: float = 60.0, cwd: Path | None = None
) -> Done:
    """Run `voxagent ARGS` to the end (stdin closed: nothing can be asked)."""
    done = subprocess.run(
        [*voxagent_command(), *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Done(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment for one test."""
    return clean_env(tmp_path)


def _speak(text: str, folder: Path) -> tuple[np.ndarray, int]:
    path = folder / "phrase.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, timeout=30)
    samples, rate = sf.read(path, dtype="int16")
    return samples, rate


def _write_phrases(path: Path, phrases: list[str], folder: Path) -> Path:
    pieces = []
    rate = 22050
    for phrase in phrases:
        samples, rate = _speak(phrase, folder)
        gap = np.zeros(rate, dtype=np.int16)
        pieces += [gap, samples]
    pieces.append(np.zeros(rate, dtype=np.int16))
    sf.write(path, np.concatenate(pieces), rate)
    return path


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Spoken clips made with espeak-ng: `one` (one question), `two` (two questions)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is needed to make the speech clips (apt-get install espeak-ng)")
    folder = tmp_path_factory.mktemp("speech")
    yield {
        "one": _write_phrases(folder / "one.wav", ["What is six times seven?"], folder),
        "two": _write_phrases(
            folder / "two.wav", ["What time is it?", "Take a note: buy milk."], folder
        ),
    }


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
