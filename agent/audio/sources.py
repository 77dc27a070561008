"""Audio sources: async iterables of 30 ms frames of 16 kHz mono int16, whatever the input.

Every source yields frames of `FRAME_SAMPLES` (480) samples; only the last frame of a finite
source may be shorter. Sources are closable: `await source.aclose()` or `async with source:`
stops the stream and releases the file or device, also while another task is iterating.
"""

from __future__ import annotations

import asyncio
import os
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy.typing as npt
import soundfile as sf

from agent.audio._blocks import FRAME_MS, FRAME_SAMPLES, Reframer, StreamConverter
from agent.audio.convert import (
    PCM16,
    SAMPLE_RATE,
    check_audio_path,
    require_rate,
    to_pcm16,
    unreadable_audio,
)
from agent.errors import BadAudioError

__all__ = [
    "FRAME_MS",
    "FRAME_SAMPLES",
    "ArraySource",
    "AudioSource",
    "FileReader",
    "WavSource",
]

_YIELD_EVERY = 32
"""Frames between two explicit yields to the event loop when a source runs faster than real time."""


class AudioSource(ABC):
    """An async iterable of 16 kHz mono int16 frames of `FRAME_SAMPLES` samples (30 ms).

    Subclasses implement `_frames`; this class adds closing and the async context manager.
    """

    sample_rate: int = SAMPLE_RATE
    frame_samples: int = FRAME_SAMPLES

    def __init__(self) -> None:
        self._closed = False
        self._iterator: AsyncGenerator[PCM16, None] | None = None

    @property
    def closed(self) -> bool:
        """True once `aclose` was called."""
        return self._closed

    @property
    def live(self) -> bool:
        """Whether frames come at the pace they are recorded (a microphone, a file read
        `realtime`): then the stream's timeline is the wall clock since it started."""
        return bool(getattr(self, "realtime", False))

    def __aiter__(self) -> AsyncIterator[PCM16]:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed; make a new source")
        self._iterator = self._frames()
        return self._iterator

    @abstractmethod
    def _frames(self) -> AsyncGenerator[PCM16, None]:
        """Yield the frames; must stop soon after `self._closed` becomes True."""

    async def _release(self) -> None:  # noqa: B027 (optional hook, empty by default)
        """Stop producing audio (called by `aclose`, maybe again); override to free a device."""

    async def aclose(self) -> None:
        """Stop the stream and free what it holds. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        await self._release()
        iterator = self._iterator
        if iterator is not None and not getattr(iterator, "ag_running", False):
            await iterator.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class _Pacer:
    """Paces frames like a microphone (`realtime`), or yields to the loop now and then."""

    def __init__(self, realtime: bool) -> None:
        self._realtime = realtime
        self._samples = 0
        self._frames = 0
        self._t0: float | None = None

    async def wait(self, frame: PCM16) -> None:
        """Wait until `frame` would have been fully recorded by a live microphone."""
        self._samples += frame.size
        self._frames += 1
        if not self._realtime:
            if self._frames % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let other tasks (a running turn) progress
            return
        loop = asyncio.get_running_loop()
        if self._t0 is None:
            self._t0 = loop.time()
        delay = self._t0 + self._samples / SAMPLE_RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


class ArraySource(AudioSource):
    """Frames from samples in memory (any dtype, rate or channel count; converted once).

    Args:
        samples: shape `(n,)` or `(n, channels)`.
        sample_rate: the rate of `samples` in Hz (required: an array does not know it).
        realtime: pace the frames like a microphone instead of as fast as possible.

    Raises:
        BadAudioError: no `sample_rate`, or samples of an unusable shape or dtype.
    """

    def __init__(
        self, samples: npt.ArrayLike, sample_rate: int | None = None, *, realtime: bool = False
    ) -> None:
        super().__init__()
        rate = require_rate(sample_rate, name="ArraySource")
        self.pcm: PCM16 = to_pcm16(samples, rate, name="ArraySource")
        self.realtime = realtime

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return self.pcm.size / SAMPLE_RATE

    async def _frames(self) -> AsyncGenerator[PCM16, None]:
        pacer = _Pacer(self.realtime)
        for offset in range(0, self.pcm.size, FRAME_SAMPLES):
            if self._closed:
                return
            frame = self.pcm[offset : offset + FRAME_SAMPLES]
            await pacer.wait(frame)
            yield frame

    def __repr__(self) -> str:
        return f"ArraySource({self.duration:.2f} s, realtime={self.realtime})"


class WavSource(AudioSource):
    """Frames from an audio file (WAV, FLAC, OGG, MP3), read block by block, never whole.

    The header is checked when the source is made, so a bad path fails early with a
    `BadAudioError`; decoding errors later in the file raise `BadAudioError` too.

    Args:
        path: the file.
        realtime: pace the frames like a microphone (for demos); default: as fast as possible.
        block_seconds: how much of the file is read at once.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, realtime: bool = False, block_seconds: float = 1.0
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.realtime = realtime
        with _open_audio(self.path) as header:
            rate, channels, frames = int(header.samplerate), int(header.channels), header.frames
        self.file_sample_rate: int = rate
        self.channels: int = channels
        self.duration: float = float(frames) / rate
        """Seconds of audio according to the header."""
        self._block = max(1, round(block_seconds * self.file_sample_rate))

    async def _frames(self) -> AsyncGenerator[PCM16, None]:
        reader = await asyncio.to_thread(FileReader, self.path, block_frames=self._block)
        reframer = Reframer(FRAME_SAMPLES)
        pacer = _Pacer(self.realtime)
        try:
            while not self._closed:
                pcm = await asyncio.to_thread(reader.read)
                if pcm is None:
                    break
                for frame in reframer.push(pcm):
                    await pacer.wait(frame)
                    yield frame
                    if self._closed:
                        return
            rest = reframer.flush()
            if rest is not None and not self._closed:
                await pacer.wait(rest)
                yield rest
        finally:
            reader.close()

    def __repr__(self) -> str:
        return f"WavSource({str(self.path)!r}, realtime={self.realtime})"


def _open_audio(path: Path) -> sf.SoundFile:
    """Open an audio file for reading, once its header is known to describe some audio."""
    label = str(path)
    check_audio_path(path, label)
    try:
        handle = sf.SoundFile(label)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise unreadable_audio(label, exc) from exc
    problem = None
    if handle.channels <= 0 or handle.samplerate <= 0:
        problem = f"header says {handle.channels} channels at {handle.samplerate} Hz"
    elif handle.frames <= 0:
        problem = "holds no samples"
    if problem is not None:
        handle.close()
        raise BadAudioError(f"{label}: {problem}")
    return handle


class FileReader:
    """Reads an audio file block by block as 16 kHz mono int16 (blocking; no event loop).

    `read()` returns the next converted block, or None at the end of the file.
    """

    def __init__(self, path: str | os.PathLike[str], *, block_frames: int = 16_000) -> None:
        self.path = Path(path)
        self._label = str(self.path)
        self._handle = _open_audio(self.path)
        self._converter = StreamConverter(int(self._handle.samplerate), name=self._label)
        self._block = block_frames
        self._read = 0
        self._done = False

    def read(self) -> PCM16 | None:
        """The next block of converted audio; None once the file is exhausted."""
        if self._done:
            return None
        try:
            block = self._handle.read(self._block, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            seconds = self._read / self._handle.samplerate
            raise BadAudioError(f"{self._label}: unreadable after {seconds:.1f} s ({exc})") from exc
        self._read += block.shape[0]
        self._done = block.shape[0] < self._block
        return self._converter.convert(block, last=self._done)

    def close(self) -> None:
        """Close the file."""
        self._handle.close()

    def __iter__(self) -> Iterator[PCM16]:
        while (block := self.read()) is not None:
            yield block
