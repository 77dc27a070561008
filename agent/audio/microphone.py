"""`Microphone`: live frames from an input device through PortAudio (sounddevice).

PortAudio calls back from its own thread; the callback only copies the block and hands it to
the event loop (`call_soon_threadsafe`), where it goes into a bounded queue. A full queue drops
the block and counts it (`overflows`) instead of blocking the audio thread. A device that stops
delivering trips a watchdog: `AudioDeviceError`, never a hang.

sounddevice is imported lazily, on first use: PortAudio enumerates the devices when it is
imported, so anything that changes them (`PULSE_SERVER` in tests) must come before.

With no device named, where PulseAudio/PipeWire has `module-echo-cancel`, the microphone
records from its echo-cancelled source (through PortAudio's `pulse` device): the assistant's
voice, played through the canceller's sink (`SoundDeviceSpeaker()` does), is taken out of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any, TypeVar

import numpy as np

from agent.audio._blocks import FRAME_SAMPLES, Reframer, StreamConverter
from agent.audio.convert import PCM16, SAMPLE_RATE
from agent.audio.portaudio import (
    AudioDevice,
    EchoCancelRoute,
    echo_cancel_route,
    list_devices,
    load_sounddevice,
    routed,
)
from agent.audio.sources import AudioSource
from agent.errors import AudioDeviceError

__all__ = ["InputDevice", "Microphone", "input_devices", "system_echo_source"]

_log = logging.getLogger("agent.audio")
_T = TypeVar("_T")

_HINT = "list the input devices with `voxagent devices`"


InputDevice = AudioDevice
"""An input device as PortAudio sees it."""


def _sounddevice() -> Any:
    return load_sounddevice("the microphone", _HINT)


def input_devices() -> list[InputDevice]:
    """The input devices PortAudio can open (what `voxagent devices` lists)."""
    return list_devices("input", _sounddevice())


def system_echo_source() -> str | None:
    """The sound server's echo-cancelled source that `Microphone()` (no device named) records
    from, or None (no `module-echo-cancel`, or no PortAudio `pulse` device). Blocking."""
    route = echo_cancel_route("input", _sounddevice())
    return None if route is None else route.target


class Microphone(AudioSource):
    """Frames from a live input device, converted to 16 kHz mono int16 (30 ms frames).

    Args:
        device: PortAudio device index or (part of) its name; None: the default input.
        max_queued_s: audio that may wait for the consumer before blocks are dropped
            (each dropped block counts in `overflows` and is logged).
        watchdog_s: seconds without audio after which the device counts as dead.
        start_timeout_s: seconds the device may take to open, start and deliver its first
            audio.
        system_echo_cancel: with no device named, record from the sound server's
            echo-cancelled source where there is one (`system_echo_source()`); False: the
            default input as it is.
    """

    def __init__(
        self,
        device: int | str | None = None,
        *,
        max_queued_s: float = 2.0,
        watchdog_s: float = 2.0,
        start_timeout_s: float = 5.0,
        system_echo_cancel: bool = True,
    ) -> None:
        super().__init__()
        self.device = device
        self.system_echo_cancel = system_echo_cancel
        self.max_queued = max(1, round(max_queued_s * SAMPLE_RATE / FRAME_SAMPLES))
        self.watchdog_s = watchdog_s
        self.start_timeout_s = start_timeout_s
        self.overflows = 0
        """Blocks dropped because the consumer fell behind by more than `max_queued_s`."""
        self.driver_overflows = 0
        """Blocks in which PortAudio itself reported lost input."""
        self._driver_overflows_logged = 0
        self.device_name: str | None = None
        """The device's name, once it is open."""
        self.device_sample_rate: int | None = None
        """The rate the device delivers, once it is open (converted to 16 kHz here)."""
        self.echo_cancelled_source: str | None = None
        """The sound server's echo-cancelled source it records from, once open (or None)."""
        self._stream: Any = None
        self._queue: asyncio.Queue[PCM16 | None] = asyncio.Queue()

    @property
    def live(self) -> bool:
        """A microphone is live."""
        return True

    async def _frames(self) -> AsyncGenerator[PCM16, None]:
        loop = asyncio.get_running_loop()
        await self._start(loop)
        assert self.device_sample_rate is not None
        converter = StreamConverter(self.device_sample_rate, name="microphone")
        reframer = Reframer(FRAME_SAMPLES)
        patience = max(self.watchdog_s, self.start_timeout_s)  # devices may start slowly
        try:
            while not self._closed:
                try:
                    async with asyncio.timeout(patience):
                        block = await self._queue.get()
                except TimeoutError:
                    raise AudioDeviceError(
                        f"microphone {self.device_name!r} delivered no audio for "
                        f"{patience:g} s (unplugged, muted, or taken by another "
                        f"program?); {_HINT}"
                    ) from None
                patience = self.watchdog_s
                if block is None:  # aclose() woke us up
                    return
                for frame in reframer.push(converter.convert(block)):
                    yield frame
        finally:
            await self._release()

    async def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        # Over 40 lines because of its two closures: PortAudio's callback and the opening job
        # share the loop and the settings, and reading them apart would hide that.
        sd = await _run_blocking(_sounddevice)

        def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
            # PortAudio's thread: copy and hand over; nothing here may block.
            if status.input_overflow:
                self.driver_overflows += 1
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                loop.call_soon_threadsafe(self._deliver, indata.copy())

        def open_stream() -> Any:
            route = self._route(sd)
            device = self.device if route is None else route.device
            with routed(route):  # PULSE_SOURCE while the pulse device opens
                info = _query_input(sd, device)
                rate, channels = _pick_settings(sd, device, info)
                stream = sd.InputStream(
                    device=device,
                    samplerate=rate,
                    channels=channels,
                    dtype="int16",
                    blocksize=round(rate * FRAME_SAMPLES / SAMPLE_RATE),
                    callback=callback,
                )
                stream.start()
            self.echo_cancelled_source = None if route is None else route.target
            return stream, _name(info, route), rate

        opening = asyncio.ensure_future(_run_blocking(open_stream))
        try:
            await asyncio.wait({opening}, timeout=self.start_timeout_s)
        finally:
            if not opening.done():  # timed out or cancelled: a stream opened later is stopped
                opening.add_done_callback(_stop_late_stream)
        if not opening.done():
            raise AudioDeviceError(
                f"microphone {self.device!r} did not start within {self.start_timeout_s:g} s; "
                f"{_HINT}"
            )
        try:
            self._stream, self.device_name, self.device_sample_rate = opening.result()
        except sd.PortAudioError as exc:
            raise AudioDeviceError(
                f"microphone {self.device!r} could not be opened: {exc}; {_HINT}"
            ) from exc

    def _route(self, sd: Any) -> EchoCancelRoute | None:
        """The echo-cancelled source to record from instead of the default input, if any."""
        if self.device is not None or not self.system_echo_cancel:
            return None
        return echo_cancel_route("input", sd)

    def _deliver(self, block: Any) -> None:
        if self._closed:
            return
        if self.driver_overflows != self._driver_overflows_logged:  # logged here, not in the
            self._driver_overflows_logged = self.driver_overflows  # audio thread
            _log.warning(
                "microphone %r: the audio driver lost input (%d times so far); the system is "
                "too busy",
                self.device_name,
                self.driver_overflows,
            )
        if self._queue.qsize() >= self.max_queued:
            self.overflows += 1
            if self.overflows == 1 or self.overflows % 100 == 0:
                _log.warning(
                    "microphone: consumer too slow, %d audio blocks dropped so far", self.overflows
                )
            return
        self._queue.put_nowait(np.asarray(block))

    async def _release(self) -> None:
        self._queue.put_nowait(None)
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            await asyncio.wait_for(_run_blocking(lambda: _stop(stream)), 3.0)
        except TimeoutError:
            _log.warning("microphone %r did not stop within 3 s; abandoning it", self.device_name)

    def __repr__(self) -> str:
        return f"Microphone(device={self.device!r})"


def _name(info: Any, route: EchoCancelRoute | None) -> str:
    name = str(info["name"])
    return name if route is None else f"{route.target} (echo-cancelled, through {name})"


def _query_input(sd: Any, device: int | str | None) -> Any:
    try:
        return sd.query_devices(device, "input")
    except (ValueError, sd.PortAudioError) as exc:
        what = "no default input device" if device is None else f"no input device {device!r}"
        raise AudioDeviceError(f"{what} ({exc}); {_HINT}") from exc


def _pick_settings(sd: Any, device: int | str | None, info: Any) -> tuple[int, int]:
    """16 kHz mono if the device takes it, else its own rate (we resample) and channels."""
    native = int(info["default_samplerate"])
    candidates = [(SAMPLE_RATE, 1), (native, 1), (native, max(1, int(info["max_input_channels"])))]
    for rate, channels in candidates:
        try:
            sd.check_input_settings(
                device=device, samplerate=rate, channels=channels, dtype="int16"
            )
        except (ValueError, sd.PortAudioError):
            continue
        return rate, channels
    raise AudioDeviceError(
        f"input device {info['name']!r} accepts none of {candidates} (rate, channels); {_HINT}"
    )


def _stop_late_stream(opening: asyncio.Future[Any]) -> None:
    """Stop the stream of an opening nobody waits for any more, once it has opened."""
    if opening.cancelled() or opening.exception() is not None:
        return
    stream = opening.result()[0]
    stopping = asyncio.ensure_future(_run_blocking(lambda: _stop_quietly(stream)))
    _stopping.add(stopping)  # held until done: a task nobody references may be collected
    stopping.add_done_callback(_stopping.discard)


_stopping: set[asyncio.Future[None]] = set()


async def _run_blocking(job: Callable[[], _T]) -> _T:
    """`tools._threads.run_blocking`: a daemon thread, so a stuck audio driver never holds exit.

    Imported on first use, so that `import agent.audio` does not load `tools`.
    """
    from tools._threads import run_blocking

    return await run_blocking(job)


def _stop_quietly(stream: Any) -> None:
    try:
        _stop(stream)
    except Exception:
        _log.warning("stopping an abandoned microphone stream failed", exc_info=True)


def _stop(stream: Any) -> None:
    try:
        stream.abort()
    finally:
        stream.close()
