"""Helpers for driving the real `voxagent` process: the command, speech clips, a fake vLLM."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.virtual_mic import virtual_mic

__all__ = ["Done", "run_voxagent", "virtual_mic", "voxagent_command"]

HERE = Path(__file__).parent


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
