"""The output timeline every `Speaker` shares: scheduled pieces of audio, rendered in order.

A speaker's timeline counts samples from its start (silence included); `Playback` is one piece
on it, with how much of it has been played. `Timeline` is thread-safe: PortAudio's callback
renders from its own thread while the event loop schedules and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable

import numpy as np

from agent.audio.convert import PCM16
from agent.audio.vad import SILENCE_DBFS, level_dbfs

__all__ = ["OutputTap", "Playback", "Timeline", "TimelineSpeaker"]

OutputTap = Callable[[PCM16], None]
"""Called with every rendered block (from the audio thread: it must not block), e.g. to feed
an echo canceller its reference."""


class Playback:
    """One piece of audio scheduled on a speaker.

    `start` is its first sample on the speaker's timeline; `played` how many of its `samples`
    have been played so far (frozen where `stop()` cut it short).
    """

    def __init__(self, start: int, samples: int) -> None:
        self.start = start
        self.samples = samples
        self.played = 0
        self.stopped = False
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()

    @property
    def done(self) -> bool:
        """Played to its end, or stopped."""
        return self._done.is_set()

    @property
    def end(self) -> int:
        """The timeline sample just after it."""
        return self.start + self.samples

    async def wait(self) -> None:
        """Until it has been played to its end or stopped."""
        await self._done.wait()

    def _settle(self) -> None:
        """Mark it done; from any thread."""
        if _on_loop(self._loop):
            self._done.set()
        else:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                self._loop.call_soon_threadsafe(self._done.set)

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "done" if self.done else "pending"
        return (
            f"Playback(start={self.start}, samples={self.samples}, played={self.played}, {state})"
        )


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class Timeline:
    """Pieces of audio placed on a sample timeline and rendered block by block.

    Args:
        sample_rate: the rate of the timeline.
        on_output: a tap called with each rendered block (see `OutputTap`).
    """

    def __init__(self, sample_rate: int, on_output: OutputTap | None = None) -> None:
        self.sample_rate = sample_rate
        self.taps: list[OutputTap] = [on_output] if on_output is not None else []
        """Called with each rendered block, in order (see `OutputTap`)."""
        self.position = 0
        """Samples rendered so far (what has been played, silence included)."""
        self.level_dbfs = SILENCE_DBFS
        """The RMS level of the last rendered block."""
        self._pieces: deque[tuple[Playback, PCM16]] = deque()
        self._end = 0
        self._lock = threading.Lock()

    @property
    def scheduled_end(self) -> int:
        """The sample after the last scheduled audio (or the position, when idle)."""
        with self._lock:
            return max(self._end, self.position)

    def schedule(self, pcm: PCM16, at: int | None = None) -> Playback:
        """Place `pcm` after everything scheduled, and not before sample `at`; its playback."""
        samples = np.ascontiguousarray(pcm, dtype=np.int16).reshape(-1)
        with self._lock:
            start = max(self._end, self.position, at or 0)
            playback = Playback(start, samples.size)
            self._end = playback.end
            if samples.size:
                self._pieces.append((playback, samples))
        if not samples.size:
            playback._settle()
        return playback

    def render(self, frames: int) -> PCM16:
        """The next `frames` samples (zeros where nothing is scheduled); settles finished pieces."""
        block = np.zeros(frames, dtype=np.int16)
        finished: list[Playback] = []
        with self._lock:
            begin, end = self.position, self.position + frames
            for playback, samples in self._pieces:
                if playback.start >= end:
                    break
                first, last = max(begin, playback.start), min(end, playback.end)
                block[first - begin : last - begin] = samples[
                    first - playback.start : last - playback.start
                ]
                playback.played = last - playback.start
                if last == playback.end:
                    finished.append(playback)
            for _ in finished:
                self._pieces.popleft()
            self.position = end
        self.level_dbfs = level_dbfs(block) if block.any() else SILENCE_DBFS
        for tap in self.taps:
            tap(block)
        for playback in finished:
            playback._settle()
        return block

    def stop(self) -> list[Playback]:
        """Drop everything not yet rendered; the playbacks it cut short (now settled)."""
        with self._lock:
            dropped = [playback for playback, _ in self._pieces]
            self._pieces.clear()
            self._end = self.position
        for playback in dropped:
            playback.stopped = True
            playback._settle()
        return dropped

    @property
    def busy(self) -> bool:
        """Whether audio is scheduled that has not been rendered yet."""
        with self._lock:
            return bool(self._pieces)


class TimelineSpeaker:
    """The common part of speakers built on a `Timeline` (subclass it for a new sink).

    A subclass renders the timeline as its output advances (a device callback, a clock);
    `_advance()` is called before each read of the position, to catch up first.
    """

    def __init__(self, sample_rate: int, on_output: OutputTap | None = None) -> None:
        self._timeline = Timeline(sample_rate, on_output)

    @property
    def sample_rate(self) -> int:
        """The rate of what it plays, in Hz."""
        return self._timeline.sample_rate

    @property
    def position(self) -> int:
        """Samples played so far on its timeline (silence included)."""
        self._advance()
        return self._timeline.position

    @property
    def level_dbfs(self) -> float:
        """The RMS level of the block played last (-120 when silent)."""
        return self._timeline.level_dbfs

    @property
    def playing(self) -> bool:
        """Whether scheduled audio has not been played yet."""
        self._advance()
        return self._timeline.busy

    def stop(self) -> None:
        """Drop everything not yet played."""
        self._advance()
        self._timeline.stop()

    def add_output_tap(self, tap: OutputTap) -> None:
        """Also call `tap` with every block played (e.g. an echo canceller's `far_end`)."""
        self._timeline.taps.append(tap)

    def _schedule(self, pcm: PCM16, at: float | None) -> Playback:
        self._advance()
        return self._timeline.schedule(pcm, None if at is None else round(at * self.sample_rate))

    def _advance(self) -> None:
        """Catch the timeline up with the output (nothing to do where a callback drives it)."""
