"""Capture from the default microphone through the endpointer; print the result as JSON.

Run as a subprocess by the virtual-microphone tests (`python -m tests.audio.mic_capture`), so
that PortAudio is imported with the test's `PULSE_SERVER`. Prints `READY` once the first frame
arrived, then one JSON line: the utterances heard, or the error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from agent.audio import Endpointer, Microphone
from agent.errors import AudioDeviceError
from agent.events import UtteranceEnded


async def capture(seconds: float, watchdog: float) -> dict[str, object]:
    endpointer = Endpointer()
    events = []
    async with Microphone(watchdog_s=watchdog) as mic:
        ready = False
        async for frame in mic:
            if not ready:
                print("READY", flush=True)
                ready = True
            events += endpointer.feed(frame)
            if endpointer.position >= seconds:
                break
    events += endpointer.flush()
    utterances = [e.utterance for e in events if isinstance(e, UtteranceEnded)]
    return {
        "utterances": [{"start": u.start, "end": u.end} for u in utterances],
        "overflows": mic.overflows,
        "device": mic.device_name,
        "device_sample_rate": mic.device_sample_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--watchdog", type=float, default=2.0)
    args = parser.parse_args()
    try:
        result = asyncio.run(capture(args.seconds, args.watchdog))
    except AudioDeviceError as exc:
        result = {"error": str(exc)}
    print(json.dumps(result), flush=True)
    sys.stdout.flush()
    # A device that died may leave PortAudio unable to terminate at exit; do not wait for it.
    os._exit(0)


if __name__ == "__main__":
    main()
