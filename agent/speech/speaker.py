"""The `Speaker` protocol (where speech is played) and `WavSink` (a WAV file on a timeline).

A speaker plays pieces of 16-bit mono PCM in order on its own timeline (sample 0 is when it
started; silence counts). `position` is what has been played so far: for barge-in and for
recording what the user heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from agent.audio.convert import PCM16
from agent.speech.playback import OutputTap, Playback, TimelineSpeaker

__all__ = ["Speaker", "WavSink"]


@runtime_checkable
class Speaker(Protocol):
    """Plays PCM at `sample_rate`, in order, with a playback position and a level."""

    @property
    def sample_rate(self) -> int:
        """The rate of the PCM it plays, in Hz."""
        ...

    @property
    def position(self) -> int:
        """Samples played so far on its timeline (silence included)."""
        ...

    @property
    def level_dbfs(self) -> float:
        """The RMS level of what is playing now (-120 when silent), for a console meter."""
        ...

    @property
    def playing(self) -> bool:
        """Whether audio is scheduled that has not been played yet."""
        ...

    async def play(self, pcm: PCM16, *, at: float | None = None) -> Playback:
        """Schedule `pcm` after everything already scheduled (and not before `at` seconds on
        the timeline); returns at once with its `Playback`."""
        ...

    def stop(self) -> None:
        """Drop everything not yet played; the sound stops within a fraction of a second."""
        ...

    async def aclose(self) -> None:
        """Play what is scheduled (unless stopped) and release the device or file."""
        ...


class WavSink(TimelineSpeaker):
    """A speaker that writes a WAV file (16-bit mono), silence where nothing is played.

    Sample 0 of the file is sample 0 of the timeline, so `play(pcm, at=seconds)` puts speech
    exactly where it was said on another timeline (e.g. the input stream, for `--speak-to`).

    Args:
        path: the WAV file to write (replaced).
        sample_rate: the file's rate.
        clock: seconds on the timeline now; audio counts as played once the clock has passed
            it (`stop()` drops what it has not reached). None: everything counts as played as
            soon as it is scheduled (the file is written as fast as speech comes).
            `WavSink.realtime(path)` uses the wall clock from the sink's creation.
        on_output: a tap called with every block written (e.g. an echo canceller's reference).

    `stop()` drops what the clock has not reached (without a clock, everything is played).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sample_rate: int = 16_000,
        clock: Callable[[], float] | None = None,
        on_output: OutputTap | None = None,
    ) -> None:
        import soundfile

        super().__init__(sample_rate, on_output)
        self.path = os.fspath(path)
        self._clock = clock
        self._file: Any = soundfile.SoundFile(
            self.path, "w", samplerate=sample_rate, channels=1, subtype="PCM_16"
        )
        self._ticker: asyncio.Task[None] | None = None

    @classmethod
    def realtime(cls, path: str | os.PathLike[str], *, sample_rate: int = 16_000) -> WavSink:
        """A sink whose clock is the wall clock, from now: plays at the pace of a device."""
        started = time.monotonic()
        return cls(path, sample_rate=sample_rate, clock=lambda: time.monotonic() - started)

    @property
    def clock(self) -> Callable[[], float] | None:
        """The sink's clock (None: everything counts as played when scheduled)."""
        return self._clock

    def follow(self, clock: Callable[[], float]) -> None:
        """Play by `clock` from now on (e.g. the position of an input stream, so the file
        lines up with it); only for a sink made without a clock, before anything is played."""
        if self._clock is not None or self._timeline.position or self._timeline.busy:
            raise RuntimeError(f"{self!r} already has a clock or has played audio")
        self._clock = clock

    async def play(self, pcm: PCM16, *, at: float | None = None) -> Playback:
        """Schedule `pcm` (see `Speaker.play`)."""
        playback = self._schedule(pcm, at)
        if self._clock is None:
            self._render_to(self._timeline.scheduled_end)
        elif self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick())
        return playback

    async def aclose(self) -> None:
        """Write what is scheduled (as if the clock ran on) and close the file."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._file.closed:
            return
        self._render_to(self._timeline.scheduled_end)
        self._file.close()

    async def __aenter__(self) -> WavSink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _advance(self) -> None:
        if self._clock is not None and not self._file.closed:
            self._render_to(round(self._clock() * self.sample_rate))

    def _render_to(self, sample: int) -> None:
        # Small buffered writes (a few kB): not worth a thread hop each.
        while (missing := sample - self._timeline.position) > 0:
            self._file.write(self._timeline.render(min(missing, self.sample_rate)))

    async def _tick(self) -> None:
        """Follow the clock while audio is scheduled, so playbacks settle as it passes them."""
        while self._timeline.busy:
            self._advance()
            await asyncio.sleep(0.01)

    def __repr__(self) -> str:
        return f"WavSink({self.path!r}, sample_rate={self.sample_rate})"
