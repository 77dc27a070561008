"""`WakeWord` on espeak-ng speech: the word is heard where it is said, and only there."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from agent.audio import WAKE_WORDS, WakeWord, decode_audio
from agent.audio.convert import PCM16

pytest.importorskip("pymicro_wakeword")


def spoken(text: str, tmp_path: Path) -> PCM16:
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng (apt-get install espeak-ng)")
    path = tmp_path / "said.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    return decode_audio(path)


def frames_heard(detector: WakeWord, pcm: PCM16) -> list[int]:
    return [i for i in range(0, pcm.size, 480) if detector.heard(pcm[i : i + 480])]


@pytest.mark.parametrize(
    ("name", "text"), [("okay_nabu", "Okay nabu, what time is it?"), ("alexa", "Alexa, stop.")]
)
def test_the_wake_word_is_heard_once_near_its_end(tmp_path: Path, name: str, text: str) -> None:
    speech = spoken(text, tmp_path)
    hits = frames_heard(WakeWord(name), np.concatenate([np.zeros(8000, np.int16), speech]))
    assert hits and hits[0] / 16000 < 0.5 + 1.5  # the word ends within its first 1.5 s
    assert hits[-1] - hits[0] < 16000  # one detection, maybe over a few frames


@pytest.mark.parametrize("name", WAKE_WORDS)
def test_a_command_without_the_word_wakes_nothing(tmp_path: Path, name: str) -> None:
    assert frames_heard(WakeWord(name), spoken("Set a timer for five minutes.", tmp_path)) == []


def test_other_words_are_not_this_one_and_names_are_checked(tmp_path: Path) -> None:
    assert (
        frames_heard(WakeWord("hey_jarvis"), spoken("Okay nabu, what time is it?", tmp_path)) == []
    )
    with pytest.raises(ValueError, match="okay_nabu"):
        WakeWord("hey_computer")
