#!/usr/bin/env python3
"""Long-recording transcription against the scripted server: wall time, requests, padding
waste and peak memory, for 10, 30 and 180 minutes of generated speech.

The recordings (espeak-ng phrases, pauses of 0.3-6 s with noise between) are written to a
temporary folder by a streaming generator and deleted afterwards. The scripted server runs
in this process and models a GPU server: each request waits `--base-delay` seconds plus
`--per-audio-second` for every second of audio (the transcript is decoded token by token;
vLLM batches concurrent requests, so they do not slow each other). Each transcription runs
in a fresh child process, so its peak RSS is its own (the server keeps every upload).

    .venv/bin/python bench/long_audio.py [--minutes 10,30,180] [--pieces 30,60,120,300,600]

Tokens per minute of speech: the audio tokens sent (376 per started 30 s of each piece)
divided by the minutes of speech in the recording; 752 would be no waste at all.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.limits import audio_tokens  # noqa: E402
from agent.testing import RecordedRequest, ScriptedServer, Step  # noqa: E402
from tests.long_audio.recordings import write_recording  # noqa: E402


class Meter:
    """What the server saw: requests and the audio tokens they carried."""

    def __init__(self, base: float, per_second: float) -> None:
        self.base = base
        self.per_second = per_second
        self.lock = threading.Lock()
        self.requests = 0
        self.tokens = 0

    def __call__(self, request: RecordedRequest) -> Step:
        info = sf.info(io.BytesIO(request.body["file"]))
        seconds = info.frames / info.samplerate
        with self.lock:
            self.requests += 1
            self.tokens += audio_tokens(seconds)
        return Step(content="words " * 3, delay=self.base + self.per_second * seconds)

    def reset(self) -> tuple[int, int]:
        with self.lock:
            counts = (self.requests, self.tokens)
            self.requests = self.tokens = 0
        return counts


def client(url: str, path: str, piece: float, in_flight: int) -> None:
    """One transcription (in a child process): prints its wall time and peak RSS as JSON."""
    from agent import Agent

    async def run() -> int:
        async with Agent(base_url=url, transcribe_turns=False) as agent:
            transcript = await agent.transcribe(
                path, max_piece_seconds=piece, max_in_flight=in_flight
            )
        return len(transcript.segments)

    started = time.perf_counter()
    segments = asyncio.run(run())
    wall = time.perf_counter() - started
    peak_mb = _peak_rss_mb()
    print(json.dumps({"wall": wall, "peak_mb": peak_mb, "segments": segments}))


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM; `ru_maxrss` would count the parent's, from
    before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url: str, meter: Meter, path: Path, piece: float, in_flight: int) -> dict[str, float]:
    meter.reset()
    argv = [sys.executable, __file__, "--client", url, str(path), str(piece), str(in_flight)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    result["requests"], result["tokens"] = meter.reset()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", default="10,30,180")
    parser.add_argument("--pieces", default="30,60,120,300,600", help="piece lengths swept")
    parser.add_argument("--sweep-minutes", type=float, default=30.0)
    parser.add_argument("--piece", type=float, default=300.0, help="piece length of the runs")
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--base-delay", type=float, default=0.3)
    parser.add_argument("--per-audio-second", type=float, default=0.02)
    args = parser.parse_args()
    meter = Meter(args.base_delay, args.per_audio_second)
    with tempfile.TemporaryDirectory() as folder, ScriptedServer(transcriber=meter) as server:
        recordings = {}
        for minutes in sorted({float(m) for m in args.minutes.split(",")} | {args.sweep_minutes}):
            path = Path(folder) / f"{minutes:g}min.wav"
            bursts = write_recording(path, seconds=minutes * 60, gaps=(0.3, 6.0), talk=(1, 4))
            recordings[minutes] = (path, sum(b.end - b.start for b in bursts) / 60)
        print(f"model server: {args.base_delay} s + {args.per_audio_second} s per audio second "
              f"per request; {args.in_flight} pieces in flight")  # fmt: skip
        print(f"\npiece length sweep on {args.sweep_minutes:g} min:")
        print(" piece s | requests | wall s | tokens/min of speech | peak MB")
        path, speech = recordings[args.sweep_minutes]
        for piece in (float(p) for p in args.pieces.split(",")):
            r = measure(server.base_url, meter, path, piece, args.in_flight)
            print(f" {piece:7.0f} | {r['requests']:8.0f} | {r['wall']:6.1f} | "
                  f"{r['tokens'] / speech:20.0f} | {r['peak_mb']:7.0f}")  # fmt: skip
        print(f"\nrecordings, pieces of at most {args.piece:g} s:")
        print(" minutes | speech min | requests | wall s | tokens/min of speech | peak MB")
        for minutes in (float(m) for m in args.minutes.split(",")):
            path, speech = recordings[minutes]
            r = measure(server.base_url, meter, path, args.piece, args.in_flight)
            print(f" {minutes:7.0f} | {speech:10.1f} | {r['requests']:8.0f} | {r['wall']:6.1f} | "
                  f"{r['tokens'] / speech:20.0f} | {r['peak_mb']:7.0f}")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
