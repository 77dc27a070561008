"""`Recording`: a recording of any length, read in blocks or by time range, never loaded whole.

A file (path or bytes) stays on disk (or in its compressed bytes): `blocks()` streams it as
16 kHz mono int16 for the endpointer, and `read(spans)` decodes only the time ranges a piece
needs. Samples already in memory (an array, a `Clip`, an `Utterance`, a mistral-common `Audio`)
are converted once.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from agent.audio._blocks import StreamConverter
from agent.audio.convert import PCM16, SAMPLE_RATE, check_audio_path, to_pcm16, unreadable_audio
from agent.clips import ClipSource, decode_source
from agent.errors import BadAudioError

__all__ = ["Recording", "Span"]

Span = tuple[float, float]
"""A time range of a recording: (start, end) in seconds."""

_BLOCK_SECONDS = 4.0
"""Audio read at once while streaming: bounds memory, whatever the recording's length."""


class Recording:
    """One recording, opened for reading by time (its header checked now).

    Args:
        source: a path, the bytes of a WAV/FLAC/OGG/MP3 file, or samples in memory (a numpy
            array with `sample_rate`, a `Clip`, an `Utterance`, a mistral-common `Audio`).
        sample_rate: the rate of a numpy array (required for arrays).
        name: how messages call it (default: the path, else "audio").

    Raises:
        BadAudioError: the source is missing, empty or not audio.
    """

    def __init__(
        self, source: ClipSource, *, sample_rate: int | None = None, name: str | None = None
    ) -> None:
        self._file: str | bytes | None = None
        self._pcm: PCM16 | None = None
        self._native = False  # a 16 kHz mono file: read as int16, no conversion
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            self.name = name or str(path)
            check_audio_path(path, self.name)
            self._file = str(path)
        elif isinstance(source, bytes | bytearray | memoryview):
            self.name = name or "audio"
            if not source:
                raise BadAudioError(f"{self.name}: empty (0 bytes)")
            self._file = bytes(source)
        else:
            pcm, label = decode_source(source, sample_rate=sample_rate, name=name or "audio")
            self.name = label
            self._pcm = pcm
        if self._file is not None:
            with self._open() as handle:
                self._rate = int(handle.samplerate)
                self._native = self._rate == SAMPLE_RATE and handle.channels == 1
                frames = int(handle.frames)
            if frames <= 0:
                raise BadAudioError(f"{self.name}: holds no samples")
            self.duration: float = frames / self._rate
            """Length in seconds."""
        else:
            assert self._pcm is not None
            if self._pcm.size == 0:
                raise BadAudioError(f"{self.name}: empty (no samples); pass some audio")
            self._rate = SAMPLE_RATE
            self.duration = self._pcm.size / SAMPLE_RATE

    @property
    def in_memory(self) -> bool:
        """Whether the samples are in memory already (not a file)."""
        return self._pcm is not None

    def blocks(self, block_seconds: float = _BLOCK_SECONDS) -> Iterator[PCM16]:
        """The whole recording as consecutive 16 kHz mono int16 blocks (blocking)."""
        if self._pcm is not None:
            step = round(block_seconds * SAMPLE_RATE)
            for offset in range(0, self._pcm.size, step):
                yield self._pcm[offset : offset + step]
            return
        with self._open() as handle:
            converter = StreamConverter(self._rate, name=self.name)
            step = max(1, round(block_seconds * self._rate))
            done = 0
            while True:
                block = self._read_frames(handle, step, done)
                done += block.shape[0]
                last = block.shape[0] < step
                yield converter.convert(block, last=last)
                if last:
                    return

    def read(self, spans: Sequence[Span]) -> PCM16:
        """The audio of `spans` (seconds, in order), joined, as 16 kHz mono int16 (blocking)."""
        if self._pcm is not None:
            pcm = self._pcm
            parts = [pcm[_sample(start) : _sample(end)] for start, end in spans]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        parts = []
        with self._open() as handle:
            for start, end in spans:
                first = round(start * self._rate)
                count = max(0, round(end * self._rate) - first)
                handle.seek(first)
                if self._native:
                    parts.append(self._read_frames(handle, count, first, dtype="int16")[:, 0])
                    continue
                block = self._read_frames(handle, count, first)
                parts.append(to_pcm16(block, self._rate, name=self.name))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def _open(self) -> sf.SoundFile:
        assert self._file is not None
        target: Any = io.BytesIO(self._file) if isinstance(self._file, bytes) else self._file
        try:
            handle = sf.SoundFile(target)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            raise unreadable_audio(self.name, exc) from exc
        if handle.channels <= 0 or handle.samplerate <= 0:
            handle.close()
            raise BadAudioError(f"{self.name}: header says no audio")
        return handle

    def _read_frames(
        self, handle: sf.SoundFile, count: int, at: int, *, dtype: str = "float32"
    ) -> np.ndarray[Any, Any]:
        try:
            block: np.ndarray[Any, Any] = handle.read(count, dtype=dtype, always_2d=True)
            return block
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            seconds = at / self._rate
            raise BadAudioError(f"{self.name}: unreadable after {seconds:.1f} s ({exc})") from exc

    def __repr__(self) -> str:
        return f"Recording({self.name!r}, {self.duration:.1f} s)"


def _sample(seconds: float) -> int:
    return max(0, round(seconds * SAMPLE_RATE))
