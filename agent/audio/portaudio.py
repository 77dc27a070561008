"""PortAudio through sounddevice: loading it with a clear error, listing its devices, and
reaching the sound server's echo-cancelled source and sink.

One place for what the microphone and the speaker both need. Blocking calls: run them off the
event loop (`tools._threads.run_blocking`).

PortAudio does not list PulseAudio's sources and sinks, but its ALSA `pulse` device opens
whatever `PULSE_SOURCE` (recording) or `PULSE_SINK` (playback) names when the stream opens:
`echo_cancel_route` finds the echo-cancelled one (`module-echo-cancel`), `routed` sets the
variable while a stream opens.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from agent.errors import AudioDeviceError

__all__ = [
    "PULSE_DEVICE",
    "AudioDevice",
    "EchoCancelRoute",
    "echo_cancel_route",
    "list_devices",
    "load_sounddevice",
    "routed",
]

PULSE_DEVICE = "pulse"
"""PortAudio's name for ALSA's PulseAudio plugin device (libasound2-plugins)."""

_TARGET_VARIABLE = {"input": "PULSE_SOURCE", "output": "PULSE_SINK"}
_ROUTING = threading.Lock()


@dataclass(frozen=True, slots=True)
class AudioDevice:
    """An input or output device as PortAudio sees it."""

    index: int
    name: str
    host_api: str
    channels: int
    default_sample_rate: float
    is_default: bool


def load_sounddevice(purpose: str, hint: str) -> Any:
    """The `sounddevice` module, or `AudioDeviceError` saying what to install.

    Args:
        purpose: what needs it, for the message ("the microphone", "playing speech").
        hint: what to do next once installed.
    """
    try:
        import sounddevice
    except OSError as exc:  # raised at import when libportaudio is missing
        raise AudioDeviceError(
            f"PortAudio is not available ({exc}); install it (Debian/Ubuntu: apt-get install "
            f"libportaudio2), then {hint}"
        ) from exc
    except ImportError as exc:
        raise AudioDeviceError(
            f"{purpose} needs the sounddevice package (pip install 'voxtral-agent[mic]'): {exc}"
        ) from exc
    return sounddevice


def list_devices(kind: Literal["input", "output"], sd: Any) -> list[AudioDevice]:
    """The devices of `kind` PortAudio can open, with the default one marked."""
    channels_key = f"max_{kind}_channels"
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default = sd.default.device[0 if kind == "input" else 1]
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"PortAudio could not list devices: {exc}") from exc
    return [
        AudioDevice(
            index=index,
            name=str(device["name"]),
            host_api=str(apis[device["hostapi"]]["name"]),
            channels=int(device[channels_key]),
            default_sample_rate=float(device["default_samplerate"]),
            is_default=index == default,
        )
        for index, device in enumerate(devices)
        if int(device[channels_key]) > 0
    ]


@dataclass(frozen=True, slots=True)
class EchoCancelRoute:
    """The sound server's echo-cancelled source (or sink) `target`, opened through PortAudio's
    `pulse` device (index `device`)."""

    kind: Literal["input", "output"]
    device: int
    target: str


def echo_cancel_route(kind: Literal["input", "output"], sd: Any) -> EchoCancelRoute | None:
    """How to reach the echo-cancelled source (input) or sink (output) of `module-echo-cancel`;
    None where the sound server has none or PortAudio has no `pulse` device (runs `pactl`)."""
    from agent.audio.echo import system_echo_cancel

    pulse = [device for device in list_devices(kind, sd) if device.name == PULSE_DEVICE]
    if not pulse:  # no sound server behind PortAudio: nothing to ask `pactl`
        return None
    found = system_echo_cancel()
    target = found.source if kind == "input" else found.sink
    return None if target is None else EchoCancelRoute(kind, pulse[0].index, target)


@contextlib.contextmanager
def routed(route: EchoCancelRoute | None) -> Iterator[None]:
    """While a stream opens (and starts): `PULSE_SOURCE` or `PULSE_SINK` names the route's
    target, for ALSA's pulse plugin to connect to; the variable is restored after."""
    if route is None:
        yield
        return
    variable = _TARGET_VARIABLE[route.kind]
    with _ROUTING:
        before = os.environ.get(variable)
        os.environ[variable] = route.target
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = before
