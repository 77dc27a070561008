"""Small synthetic clips for tests (no recordings needed)."""

from __future__ import annotations

import numpy as np

from agent.audio.convert import PCM16, SAMPLE_RATE

__all__ = ["silence", "tone"]


def tone(seconds: float = 1.0, *, frequency: float = 440.0, level: float = 0.2) -> PCM16:
    """A sine tone as 16 kHz mono int16 samples."""
    times = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = np.sin(2 * np.pi * frequency * times) * level * 32767
    return wave.astype(np.int16)


def silence(seconds: float = 1.0) -> PCM16:
    """Digital silence as 16 kHz mono int16 samples."""
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)
