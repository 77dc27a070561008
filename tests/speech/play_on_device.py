"""Run as a subprocess (PortAudio must see PULSE_SERVER at import): plays a test signal on the
default output with `SoundDeviceSpeaker`, prints a JSON line with what it played.

With `--stop-after SECONDS` it stops the speaker once that much has been played."""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np

from agent.speech import SoundDeviceSpeaker, output_devices


def signal(seconds: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(11)
    noise = rng.standard_normal(round(16_000 * seconds)) * 4000
    return noise.clip(-32768, 32767).astype(np.int16)


async def main() -> None:
    stop_after = float(sys.argv[2]) if sys.argv[1:2] == ["--stop-after"] else None
    speaker = SoundDeviceSpeaker(sample_rate=16_000)
    try:
        playback = await speaker.play(signal(1.0 if stop_after is None else 5.0))
        if stop_after is not None:
            while playback.played < stop_after * 16_000:
                await asyncio.sleep(0.01)
            speaker.stop()
        await playback.wait()
        await speaker.aclose()
        devices = [device.name for device in output_devices() if device.is_default]
        print(json.dumps({"played": playback.played, "default_outputs": devices}))
    except Exception as error:  # reported to the test, which shows it
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
