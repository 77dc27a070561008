"""`SoundDeviceSpeaker`: speech played on an output device through PortAudio (sounddevice).

The audio callback only renders the shared `Timeline` (a copy under a short lock): it never
blocks, allocates little and calls nothing outside the process. Opening and closing the
stream (blocking PortAudio calls) run off the event loop. With no device named, where the sound
server has `module-echo-cancel`, it plays through the canceller's sink, so that the canceller
hears the assistant as its reference (`agent.audio.portaudio.echo_cancel_route`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from agent.audio.convert import PCM16
from agent.audio.portaudio import (
    AudioDevice,
    echo_cancel_route,
    list_devices,
    load_sounddevice,
    routed,
)
from agent.errors import AudioDeviceError
from agent.speech.playback import OutputTap, Playback, TimelineSpeaker
from tools._threads import run_blocking

__all__ = ["OutputDevice", "SoundDeviceSpeaker", "output_devices"]

_HINT = "list the output devices with `voxagent devices`"


OutputDevice = AudioDevice
"""An output device as PortAudio sees it."""


def _sounddevice() -> Any:
    return load_sounddevice("playing speech", _HINT)


def output_devices() -> list[OutputDevice]:
    """The output devices PortAudio can open (what `voxagent devices` lists). Blocking."""
    return list_devices("output", _sounddevice())


class SoundDeviceSpeaker(TimelineSpeaker):
    """A `Speaker` on a PortAudio output device (opened at the first `play`, or `start`).

    `position` counts the samples handed to the device: they sound `latency` seconds later.

    Args:
        device: device index or (part of) its name; None: the default output.
        sample_rate: the rate speech is played at (PortAudio or the sound server resamples).
        block_ms: the audio callback's block: the most a `stop()` lets through, plus the
            device's own latency.
        on_output: a tap called with every block handed to the device (from the audio thread),
            e.g. `EchoCanceller.far_end` for the echo canceller's reference.
        system_echo_cancel: with no device named, play through the sound server's
            echo-cancel sink where there is one; False: the default output as it is.
    """

    def __init__(
        self,
        device: int | str | None = None,
        *,
        sample_rate: int = 24_000,
        block_ms: int = 20,
        on_output: OutputTap | None = None,
        system_echo_cancel: bool = True,
    ) -> None:
        super().__init__(sample_rate, on_output)
        self.device = device
        self.system_echo_cancel = system_echo_cancel
        self.echo_cancel_sink: str | None = None
        """The sound server's echo-cancel sink it plays through, once open (or None)."""
        self._block = sample_rate * block_ms // 1000
        self._stream: Any = None
        self._opening = asyncio.Lock()

    @property
    def latency(self) -> float:
        """The device's output latency in seconds (0 before it is open)."""
        return float(self._stream.latency) if self._stream is not None else 0.0

    async def start(self) -> None:
        """Open and start the output stream (off the loop); raises `AudioDeviceError`."""
        async with self._opening:
            if self._stream is None:
                self._stream = await run_blocking(self._open)

    def _open(self) -> Any:
        sd = _sounddevice()
        try:
            sd.query_devices(self.device, "output")
        except (ValueError, sd.PortAudioError) as exc:
            raise AudioDeviceError(f"no output device {self.device!r} ({exc}); {_HINT}") from exc
        use_system = self.device is None and self.system_echo_cancel
        route = echo_cancel_route("output", sd) if use_system else None

        def callback(outdata: Any, frames: int, time: Any, status: Any) -> None:
            outdata[:, 0] = self._timeline.render(frames)

        try:
            with routed(route):  # PULSE_SINK while the pulse device opens
                stream = sd.OutputStream(
                    samplerate=self.sample_rate,
                    blocksize=self._block,
                    device=self.device if route is None else route.device,
                    channels=1,
                    dtype="int16",
                    latency="low",
                    callback=callback,
                )
                stream.start()
        except sd.PortAudioError as exc:
            raise AudioDeviceError(
                f"could not open output {self.device!r}: {exc}; {_HINT}"
            ) from exc
        self.echo_cancel_sink = None if route is None else route.target
        return stream

    async def play(self, pcm: PCM16, *, at: float | None = None) -> Playback:
        """Schedule `pcm` (see `Speaker.play`); opens the device the first time."""
        await self.start()
        return self._schedule(pcm, at)

    async def aclose(self) -> None:
        """Let scheduled audio play out, then close the stream (off the loop)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        while self._timeline.busy:
            await asyncio.sleep(self._block / self.sample_rate)
        # The last blocks are handed over but still in the device's buffers: let them sound.
        await asyncio.sleep(float(stream.latency) + 2 * self._block / self.sample_rate)
        await run_blocking(lambda: (stream.stop(), stream.close()))

    async def __aenter__(self) -> SoundDeviceSpeaker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"SoundDeviceSpeaker({self.device!r}, sample_rate={self.sample_rate})"
