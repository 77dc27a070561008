"""`voxagent devices`: the audio input devices PortAudio can open; the query every command
makes of them (off the event loop: PortAudio may take a while to scan the devices)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from agent.audio import InputDevice, input_devices
from agent.cli._exit import CliError, ExitCode, as_cli_error
from agent.errors import AudioDeviceError
from agent.speech.sound_device import OutputDevice
from tools._threads import run_blocking

__all__ = ["NO_DEVICE", "devices_command", "query_input_devices"]

NO_DEVICE = "no audio input device found: plug in a microphone (or start PulseAudio/PipeWire)"


async def query_input_devices() -> list[InputDevice]:
    """The input devices, asked of PortAudio in a worker thread; `CliError` (audio device) if
    PortAudio cannot be used."""
    try:
        return await run_blocking(input_devices)
    except AudioDeviceError as error:
        raise as_cli_error(error) from None


async def devices_command(args: argparse.Namespace) -> ExitCode:
    """Print one line (or JSON object) per input device, then per output device; the
    default input is marked with *, the default output with +."""
    devices = await query_input_devices()
    outputs = await _query_output_devices()
    if args.json:
        for device in devices:
            print(json.dumps(asdict(device)))
        for output in outputs:  # `is_default` stays the default input's mark
            shown = asdict(output)
            shown["is_default_output"], shown["is_default"] = shown["is_default"], False
            print(json.dumps({"kind": "output", **shown}))
        return ExitCode.OK
    if not devices and not outputs:
        raise CliError(f"{NO_DEVICE}, or use `voxagent run --replay FILE`", ExitCode.AUDIO_DEVICE)
    print("inputs (--device):" if devices else "inputs: none")
    for device in devices:
        _print_device(device, "*")
    print("outputs (--output-device):" if outputs else "outputs: none (use --speak-to FILE.wav)")
    for output in outputs:
        _print_device(output, "+")
    return ExitCode.OK


def _print_device(device: InputDevice | OutputDevice, default_mark: str) -> None:
    mark = default_mark if device.is_default else " "
    print(
        f"{mark} {device.index:>3}  {device.name}  ({device.host_api}, "
        f"{device.channels} ch, {device.default_sample_rate:g} Hz)"
    )


async def _query_output_devices() -> list[OutputDevice]:
    from agent.speech import output_devices

    try:
        return await run_blocking(output_devices)
    except AudioDeviceError as error:
        raise as_cli_error(error) from None
