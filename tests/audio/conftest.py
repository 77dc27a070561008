"""Shared fixtures of the audio tests: the generated corpus, and a session file from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from tests.audio.corpus import Corpus, corpus

__all__ = ["corpus", "first_utterances", "session_wav", "without_site_packages"]


@pytest.fixture
def session_wav(corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The clean corpus file as ./session.wav, so the issue's sample runs verbatim."""
    path = tmp_path / "session.wav"
    shutil.copy(corpus.path("clean"), path)
    monkeypatch.chdir(tmp_path)
    return path


def first_utterances(corpus: Corpus, count: int, tmp_path: Path) -> tuple[Path, list[dict]]:
    """The first `count` utterances of the clean corpus (with 1 s after the last) as a WAV."""
    truth = corpus.utterances("clean")[:count]
    audio, rate = sf.read(corpus.path("clean"), dtype="int16")
    path = tmp_path / f"first_{count}.wav"
    sf.write(path, audio[: round((truth[-1]["end"] + 1.0) * rate)], rate)
    return path, truth


def without_site_packages(imports: str, statement: str) -> str:
    """Run `statement` in a real interpreter whose site-packages left the path after `imports`.

    importlib.metadata then finds no wheel there, as on a machine without the optional ones;
    a `MissingExtraError` is printed as ``extra | install | message``.
    """
    code = (
        f"import sys\n{imports}\nfrom agent.audio import MissingExtraError\n"
        "sys.path[:] = [p for p in sys.path if 'site-packages' not in p]\n"
        f"try:\n    {statement}\nexcept MissingExtraError as error:\n"
        "    print(error.extra, '|', error.install, '|', error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()
