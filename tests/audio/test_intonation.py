"""Final pitch: statements and falling glides end low, rising glides high; in pink noise too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from agent.audio.convert import SAMPLE_RATE, decode_audio
from agent.audio.intonation import final_pitch_drop, pitch_track
from agent.errors import BadAudioError

PAUSE = np.zeros(round(0.2 * SAMPLE_RATE), np.int16)


def glide(start_hz: float, end_hz: float, seconds: float = 1.5) -> np.ndarray:
    """A harmonic-rich tone gliding from `start_hz` to `end_hz`, then 0.2 s of silence."""
    hz = np.geomspace(start_hz, end_hz, round(seconds * SAMPLE_RATE))
    phase = 2 * np.pi * np.cumsum(hz) / SAMPLE_RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 15))
    return np.concatenate([(tone / np.abs(tone).max() * 8000).astype(np.int16), PAUSE])


def pink_noise(size: int, seed: int = 0) -> np.ndarray:
    white = np.fft.rfft(np.random.default_rng(seed).standard_normal(size))
    pink: np.ndarray = np.fft.irfft(white / np.sqrt(np.maximum(np.arange(white.size), 1)), size)
    return pink


def with_pink_noise(pcm: np.ndarray, snr_db: float) -> np.ndarray:
    """`pcm` in pink noise `snr_db` below its active (non-silent) power."""
    audio = pcm.astype(np.float64)
    power = np.mean(audio[np.abs(audio) > 100] ** 2)
    noise = pink_noise(audio.size)
    noise *= np.sqrt(power / 10 ** (snr_db / 10) / np.mean(noise**2))
    noisy: np.ndarray = np.clip(audio + noise, -32768, 32767).astype(np.int16)
    return noisy


def spoken(text: str, voice: str, tmp_path: Path) -> np.ndarray:
    """espeak-ng saying `text` at 16 kHz, its trailing silence cut to 0.2 s."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng (apt-get install espeak-ng)")
    wav = tmp_path / "spoken.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True, timeout=60)
    pcm = decode_audio(wav)
    last = np.flatnonzero(np.abs(pcm) > 200)[-1]
    lead = np.zeros(SAMPLE_RATE // 2, np.int16)
    return np.concatenate([lead, pcm[: last + 1], PAUSE])


@pytest.mark.parametrize("snr_db", [None, 10.0], ids=["clean", "pink10"])
@pytest.mark.parametrize("voice", ["en", "en+f3"], ids=["male", "female"])
def test_a_spoken_statement_ends_several_semitones_low(
    voice: str, snr_db: float | None, tmp_path: Path
) -> None:
    pcm = spoken("I left my keys on the kitchen table.", voice, tmp_path)
    drop = final_pitch_drop(pcm if snr_db is None else with_pink_noise(pcm, snr_db))
    assert drop is not None and drop < -2.0


@pytest.mark.parametrize("snr_db", [None, 10.0], ids=["clean", "pink10"])
@pytest.mark.parametrize(
    ("start_hz", "end_hz"), [(150, 250), (220, 380), (250, 150), (140, 80)], ids=str
)
def test_a_glide_ends_where_it_heads(start_hz: float, end_hz: float, snr_db: float | None) -> None:
    pcm = glide(start_hz, end_hz)
    drop = final_pitch_drop(pcm if snr_db is None else with_pink_noise(pcm, snr_db))
    # the glide's last 80 ms against its middle: about 4 semitones up or down
    assert drop is not None and abs(drop) > 2.5 and np.sign(drop) == np.sign(end_hz - start_hz)


def test_the_track_follows_a_glide_in_hz() -> None:
    f0 = pitch_track(with_pink_noise(glide(150, 250), 10.0))
    voiced = f0[f0 > 0]
    assert voiced.size > 120  # of the 150 frames of the glide
    assert voiced[:10] == pytest.approx(152, rel=0.03)
    assert voiced[-10:] == pytest.approx(245, rel=0.03)


@pytest.mark.parametrize(
    "pcm",
    [
        (pink_noise(3 * SAMPLE_RATE) * 3000).astype(np.int16),
        np.zeros(3 * SAMPLE_RATE, np.int16),
        glide(200, 180, seconds=0.1),
        np.zeros(10, np.int16),
    ],
    ids=["pink-noise", "silence", "a-blip", "ten-samples"],
)
def test_no_speech_gives_none(pcm: np.ndarray) -> None:
    assert final_pitch_drop(pcm) is None


def test_other_rates_work_and_odd_ones_are_refused() -> None:
    at_48k = np.repeat(glide(250, 150), 3)  # crude, but the pitch is what counts
    drop = final_pitch_drop(at_48k, sample_rate=48000)
    assert drop is not None and drop < -2.5
    with pytest.raises(BadAudioError, match="multiple of 4000"):
        final_pitch_drop(glide(250, 150), sample_rate=44100)
