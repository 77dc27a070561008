"""Streaming helpers: blocks of any format in, fixed 16 kHz mono int16 frames out."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import soxr

from agent.audio.convert import PCM16, SAMPLE_RATE, float_to_pcm16, mono_float32, to_pcm16
from agent.errors import BadAudioError

__all__ = ["FRAME_MS", "FRAME_SAMPLES", "Reframer", "StreamConverter"]

FRAME_MS = 30
"""Length of the frames every source yields: 30 ms, one webrtcvad frame."""

FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
"""Samples in one frame at 16 kHz (480)."""


class StreamConverter:
    """Convert consecutive blocks of one stream to 16 kHz mono int16.

    Unlike calling `to_pcm16` per block, the resampler keeps its state across blocks, so block
    boundaries leave no clicks or gaps.
    """

    def __init__(self, sample_rate: int, *, name: str = "audio") -> None:
        if sample_rate <= 0:
            raise BadAudioError(f"{name}: sample rate must be positive, got {sample_rate}")
        self._name = name
        self._sample_rate = sample_rate
        self._resampler = (
            None
            if sample_rate == SAMPLE_RATE
            else soxr.ResampleStream(sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        )

    def convert(self, block: npt.ArrayLike, *, last: bool = False) -> PCM16:
        """Convert one block (shape `(n,)` or `(n, channels)`, any dtype); `last` flushes."""
        if self._resampler is None:
            return to_pcm16(block, SAMPLE_RATE, name=self._name)
        floats = mono_float32(block, name=self._name)
        return float_to_pcm16(self._resampler.resample_chunk(floats, last=last))


class Reframer:
    """Cut a stream of arbitrary-length int16 blocks into frames of a fixed length."""

    def __init__(self, frame_samples: int = FRAME_SAMPLES) -> None:
        if frame_samples <= 0:
            raise ValueError(f"frame_samples must be positive, got {frame_samples}")
        self.frame_samples = frame_samples
        self._pending = np.zeros(0, dtype=np.int16)

    def push(self, pcm: PCM16) -> Iterator[PCM16]:
        """Add samples; yield every complete frame now available."""
        if self._pending.size:
            pcm = np.concatenate([self._pending, pcm])
        whole = pcm.size - pcm.size % self.frame_samples
        for offset in range(0, whole, self.frame_samples):
            yield pcm[offset : offset + self.frame_samples]
        self._pending = pcm[whole:].copy()

    def flush(self) -> PCM16 | None:
        """Return the incomplete last frame (shorter than a frame), if any."""
        rest, self._pending = self._pending, np.zeros(0, dtype=np.int16)
        return rest if rest.size else None
