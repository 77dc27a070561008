"""Run as a subprocess (PortAudio must see PULSE_SERVER at import): plays a test signal on the
default output with `SoundDeviceSpeaker`, prints a JSON line with what it played."""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np

from agent.speech import SoundDeviceSpeaker, output_devices


def signal() -> np.ndarray:
    rng = np.random.default_rng(11)
    return (rng.standard_normal(16_000) * 4000).clip(-32768, 32767).astype(np.int16)


async def main() -> None:
    speaker = SoundDeviceSpeaker(sample_rate=16_000)
    try:
        playback = await speaker.play(signal())
        await playback.wait()
        await speaker.aclose()
        devices = [device.name for device in output_devices() if device.is_default]
        print(json.dumps({"played": playback.played, "default_outputs": devices}))
    except Exception as error:  # reported to the test, which shows it
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
