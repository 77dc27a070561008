"""Long test recordings, generated: espeak-ng speech, long pauses with noise between.

`write_recording` streams the file to disk block by block (a 3-hour WAV never sits in
memory). Each burst of speech can carry a marker in its loudness (`marked=True`: burst k
peaks at `marker_peak(k)`, give or take the noise), so a scripted transcriber can tell from
a piece's audio which bursts it holds (`bursts_in`), whatever order the pieces arrive in.
"""

from __future__ import annotations

import functools
import io
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from agent.audio import SAMPLE_RATE, to_pcm16

PHRASES = (
    "The meeting starts now.",
    "We agreed to ship on Friday.",
    "Please send the report to Anna.",
    "Next topic is the budget for next year.",
    "Does anyone have questions?",
    "Let us take a short break.",
)
NOISE_SIGMA = 80.0
"""The noise between bursts (about -52 dBFS): far below speech, never silent."""
_MARKER_BASE = 1500
_MARKER_STEP = 700
_DETECT = 900
"""Samples louder than this are speech when reading markers back (noise stays under 300)."""


@functools.cache
def phrase(index: int) -> np.ndarray:
    """One phrase of espeak-ng speech, 16 kHz float in [-1, 1] peaking at exactly 1."""
    text = PHRASES[index % len(PHRASES)]
    wav = subprocess.run(
        ["espeak-ng", "-s", "165", "--stdout", text], capture_output=True, check=True
    ).stdout
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    pcm = to_pcm16(samples, int(rate)).astype(np.float64)
    trimmed = pcm[np.flatnonzero(np.abs(pcm) > 200)[0] : np.flatnonzero(np.abs(pcm) > 200)[-1]]
    return trimmed / np.abs(trimmed).max()


def marker_peak(k: int) -> int:
    """The peak sample of marked burst `k` (0 to 44)."""
    return _MARKER_BASE + _MARKER_STEP * k


@dataclass(frozen=True)
class Burst:
    """One burst of speech in a generated recording: its number and where it lies (s)."""

    k: int
    start: float
    end: float


def write_recording(
    path: Path,
    *,
    seconds: float,
    gaps: tuple[float, float] = (2.0, 20.0),
    marked: bool = False,
    talk: tuple[int, int] = (1, 3),
    seed: int = 1,
) -> list[Burst]:
    """Write about `seconds` of WAV (16 kHz mono): bursts of 1-3 phrases, pauses of `gaps`
    seconds of noise between; returns the bursts (in order)."""
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    bursts: list[Burst] = []
    at = 0
    with sf.SoundFile(path, "w", SAMPLE_RATE, 1, subtype="PCM_16", format="WAV") as out:
        for block, burst in _blocks(rng, noise, seconds, gaps, marked, talk):
            if burst is not None:
                bursts.append(Burst(burst, at / SAMPLE_RATE, (at + block.size) / SAMPLE_RATE))
            out.write(block)
            at += block.size
    return bursts


def _blocks(
    rng: random.Random,
    noise: np.random.Generator,
    seconds: float,
    gaps: tuple[float, float],
    marked: bool,
    talk: tuple[int, int],
) -> Iterator[tuple[np.ndarray, int | None]]:
    total = 0
    k = 0
    while total < seconds * SAMPLE_RATE:
        gap = round(rng.uniform(*gaps) * SAMPLE_RATE)
        yield _noise(noise, gap).astype(np.int16), None
        total += gap
        if total >= seconds * SAMPLE_RATE:
            return
        parts = [phrase(rng.randrange(len(PHRASES))) for _ in range(rng.randint(*talk))]
        pause = np.zeros(round(0.25 * SAMPLE_RATE))
        speech = np.concatenate([x for part in parts for x in (part, pause)][:-1])
        peak = marker_peak(k) if marked else 9000
        # Noise under the speech too: digital silence between words would make the noise
        # floor -120 dBFS, and the pauses' noise then sounds like speech to the detector.
        yield np.round(speech * peak + _noise(noise, speech.size)).astype(np.int16), k
        total += speech.size
        k += 1


def _noise(noise: np.random.Generator, count: int) -> np.ndarray:
    return np.clip(np.round(noise.normal(0.0, NOISE_SIGMA, count)), -300, 300)


def bursts_in(wav: bytes) -> list[int]:
    """The marked bursts a piece's audio holds, in order (read back from their peaks)."""
    samples, _ = sf.read(io.BytesIO(wav), dtype="int16")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > _DETECT)
    if loud.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(loud) > round(0.9 * SAMPLE_RATE))
    found = []
    for group in np.split(loud, breaks + 1):
        peak = int(np.abs(samples[group[0] : group[-1] + 1].astype(np.int32)).max())
        found.append(round((peak - _MARKER_BASE) / _MARKER_STEP))
    return found
