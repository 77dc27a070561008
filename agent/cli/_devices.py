"""`voxagent devices`: the audio input devices PortAudio can open."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from agent.audio import input_devices
from agent.cli._exit import CliError, ExitCode
from agent.errors import AudioDeviceError

__all__ = ["devices_command"]


async def devices_command(args: argparse.Namespace) -> ExitCode:
    """Print one line (or JSON object) per input device; the default one is marked with *."""
    try:
        devices = input_devices()
    except AudioDeviceError as error:
        raise CliError(str(error), ExitCode.AUDIO_DEVICE) from None
    if args.json:
        for device in devices:
            print(json.dumps(asdict(device)))
        return ExitCode.OK
    if not devices:
        raise CliError(
            "no audio input device found: plug in a microphone (or start PulseAudio/PipeWire), "
            "or use `voxagent run --replay FILE`",
            ExitCode.AUDIO_DEVICE,
        )
    for device in devices:
        mark = "*" if device.is_default else " "
        print(
            f"{mark} {device.index:>3}  {device.name}  ({device.host_api}, "
            f"{device.channels} ch, {device.default_sample_rate:g} Hz)"
        )
    return ExitCode.OK
