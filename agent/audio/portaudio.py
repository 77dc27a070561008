"""PortAudio through sounddevice: loading it with a clear error, and listing its devices.

One place for what the microphone and the speaker both need. Blocking calls: run them off the
event loop (`tools._threads.run_blocking`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from agent.errors import AudioDeviceError

__all__ = ["AudioDevice", "list_devices", "load_sounddevice"]


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
