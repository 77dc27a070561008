"""Shared fixtures of the audio tests: the generated corpus, and a session file from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf

from tests.audio.corpus import Corpus, corpus

__all__ = ["corpus", "first_utterances", "session_wav"]


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
