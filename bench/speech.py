#!/usr/bin/env python3
"""Speech output benchmark: per voice, and for echo cancellation in the simulated room.

The machine's load average is printed first: these figures scale with the CPU left free.

- real-time factor on one core: synthesis wall time / audio seconds, the process pinned to
  one CPU (Piper's ONNX Runtime on one thread);
- first audio: from a complete first sentence fed to a `SpeechQueue` to its first audio sample
  reaching the speaker's output (a `WavSink` tap: no device latency), median and p95 over the
  sentences (each said twice), the voice loaded beforehand; for Piper, side by side: streamed
  sentences (each decoded window by window, the default) and whole clauses (`streaming=False`:
  the queue cuts sentences at commas, one inference per clause, as before);
- echo cancellation (`EchoCanceller`) and the fallback gate (`EchoGate`): CPU seconds per
  second of audio, and the echo removed (dB, echo-only microphone vs cleaned, after the first
  second) in three simulated rooms; VAD false detections on the cleaned echo;
- barge-in reaction: through the real loop (`Agent` + `ScriptedServer` + espeak-ng, the
  default endpointer), a recording replayed at real-time pace in which the user speaks again
  while a long reply is being spoken: from the user's speech onset to the playback stopped,
  on the input's timeline (what the loop decides; a sound card adds its output latency) and
  on the wall clock; median and p95 over the trials.

Usage (from the repository root; `--voices-only`: the per-voice figures only):

    .venv/bin/python bench/speech.py [--json] [--voices-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent import Agent  # noqa: E402
from agent.audio import level_dbfs, segment  # noqa: E402
from agent.audio.echo import EchoCanceller, EchoFilter, EchoGate  # noqa: E402
from agent.speech import (  # noqa: E402
    EspeakVoice,
    PiperVoice,
    SpeechQueue,
    Voice,
    WavSink,
    installed_piper_voices,
)
from agent.testing import ScriptedServer  # noqa: E402
from tests.speech.conftest import piper_voice_path, synthesize_16k  # noqa: E402
from tests.speech.room import Room, room_impulse_response  # noqa: E402

PARAGRAPH = (
    "The weather in Paris will be sunny this afternoon, with a light breeze from the west. "
    "Temperatures will reach twenty two degrees, and the evening stays mild and dry. "
    "Tomorrow morning brings some clouds, but no rain is expected before the weekend."
)
SENTENCES = [
    "Sure, I set a timer for ten minutes.",
    "It is a quarter past three in the afternoon.",
    "Your next meeting is with the design team at four o'clock.",
    "I added milk and eggs to your shopping list.",
    "The capital of Australia is Canberra, not Sydney.",
    "Tomorrow looks cloudy, with a chance of rain in the evening.",
    "I could not find a flight to Lisbon before Friday.",
    "Here are three ideas for dinner tonight.",
    "Your package was delivered this morning at nine fifteen.",
    "That song is by a band from Manchester called The Smiths.",
]
ROOMS = [(0.05, -6.0), (0.1, 0.0), (0.03, -12.0)]


def voices() -> list[Voice]:
    found: list[Voice] = [EspeakVoice()]
    shipped = piper_voice_path()
    paths = ([shipped] if shipped else []) + installed_piper_voices()
    for path in dict.fromkeys(paths):
        found += [PiperVoice(path, threads=1), PiperVoice(path, threads=1, streaming=False)]
    return found


def label(voice: Voice) -> str:
    if isinstance(voice, PiperVoice):
        way = "streamed sentences" if voice.streams_sentences else "whole clauses, as before"
        return f"{voice.name} ({way})"
    return voice.name


async def real_time_factor(voice: Voice) -> float:
    await synthesize_16k(voice, "Warm up.")
    started = time.perf_counter()
    pcm = await synthesize_16k(voice, PARAGRAPH)
    return (time.perf_counter() - started) / (pcm.size / 16_000)


async def first_audio_ms(voice: Voice, rounds: int = 2) -> list[float]:
    """Milliseconds from a complete first sentence to its first sample at the speaker."""
    delays = []
    with tempfile.TemporaryDirectory() as folder:
        for sentence in SENTENCES * rounds:
            first = asyncio.get_running_loop().create_future()

            def tap(block: np.ndarray, first: asyncio.Future[float] = first) -> None:
                if block.any() and not first.done():
                    first.set_result(time.perf_counter())

            sink = WavSink(Path(folder) / "out.wav", on_output=tap)
            queue = SpeechQueue(voice, sink)
            started = time.perf_counter()
            queue.feed(sentence + " And")  # the next word confirms the sentence's end
            delays.append((await first - started) * 1000)
            await queue.interrupt()
            await sink.aclose()
    return delays


def run_filter(echo: EchoFilter, reply: np.ndarray, mic: np.ndarray) -> tuple[np.ndarray, float]:
    cleaned = []
    started = time.process_time()
    for start in range(0, mic.size - mic.size % 480, 480):
        echo.far_end(reply[start : start + 480])
        cleaned.append(echo.process(mic[start : start + 480]))
    return np.concatenate(cleaned), time.process_time() - started


async def echo_figures(reply_voice: Voice) -> list[dict[str, Any]]:
    reply = await synthesize_16k(reply_voice, PARAGRAPH + " " + PARAGRAPH)
    seconds = reply.size / 16_000
    rows = []
    for delay, gain in ROOMS:
        mic = Room(room_impulse_response(delay_s=delay, gain_db=gain)).microphone(reply)
        for name, echo in (
            ("aec", EchoCanceller(delay_ms=round(delay * 1000))),
            ("gate", EchoGate()),
        ):
            cleaned, cpu = run_filter(echo, reply, mic)
            removed = level_dbfs(mic[16_000 : cleaned.size]) - level_dbfs(cleaned[16_000:])
            rows.append(
                {
                    "room": f"{delay * 1000:.0f} ms, {gain:+.0f} dB",
                    "filter": name,
                    "cpu_s_per_audio_s": round(cpu / seconds, 4),
                    "echo_removed_db": round(removed, 1),
                    "false_speech": len(segment(cleaned, 16000)),
                    "raw_false_speech": len(segment(mic, 16000)),
                }
            )
    return rows


class _StopProbe(WavSink):
    """A sink that notes where (on its timeline) and when (wall clock) playback was stopped."""

    stopped_at: float | None = None
    stopped_wall: float | None = None

    def stop(self) -> None:
        if self.stopped_at is None:
            self.stopped_wall = time.perf_counter()
            self.stopped_at = self.position / self.sample_rate
        super().stop()


def _onset(pcm: np.ndarray) -> float:
    """Seconds to the first 10 ms louder than -40 dBFS (where the speech starts)."""
    for start in range(0, pcm.size, 160):
        if level_dbfs(pcm[start : start + 160]) > -40.0:
            return start / 16_000
    return 0.0


async def barge_in_ms(trials: int = 8) -> dict[str, Any]:
    """Reaction times of barge-in, through the real loop at real-time pace."""
    user = EspeakVoice("en+f3")
    question = await synthesize_16k(user, "Tell me about the weather this week.")
    stop = await synthesize_16k(user, "Wait, stop, that is enough.")
    stream_ms, wall_ms = [], []
    with tempfile.TemporaryDirectory() as folder:
        for trial in range(trials):
            lead = 2.6 + 0.23 * trial  # seconds after the question's end: inside the reply
            track = np.zeros(round((0.5 + question.size / 16_000 + lead + 3.0) * 16_000), np.int16)
            track[8000 : 8000 + question.size] = question
            at = 8000 + question.size + round(lead * 16_000)
            track[at : at + stop.size] = stop
            onset = at / 16_000 + _onset(stop)
            with ScriptedServer() as server:
                server.reply(PARAGRAPH).reply("Okay.")
                agent = Agent(base_url=server.base_url, transcribe_turns=False)
                async with agent, _StopProbe(Path(folder) / "said.wav") as sink:
                    started = time.perf_counter()
                    await agent.replay_async(
                        track, sample_rate=16_000, realtime=True, voice=EspeakVoice(),
                        speaker=sink,
                    )  # fmt: skip
            if sink.stopped_at is None or sink.stopped_wall is None:
                continue  # not interrupted (reported as fewer trials)
            stream_ms.append((sink.stopped_at - onset) * 1000)
            wall_ms.append((sink.stopped_wall - started - onset) * 1000)
    return {
        "barge_in_trials": len(stream_ms),
        "barge_in_ms_median": round(statistics.median(stream_ms), 1),
        "barge_in_ms_p95": round(float(np.percentile(stream_ms, 95)), 1),
        "barge_in_wall_ms_median": round(statistics.median(wall_ms), 1),
        "barge_in_wall_ms_p95": round(float(np.percentile(wall_ms, 95)), 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--voices-only", action="store_true", help="no echo or barge-in figures")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    results: list[dict[str, Any]] = [{"load_average": [round(x, 2) for x in os.getloadavg()]}]
    all_voices = voices()
    for voice in all_voices:
        if isinstance(voice, PiperVoice):
            await voice.load()
        rtf = await real_time_factor(voice)
        delays = await first_audio_ms(voice)
        results.append(
            {
                "voice": label(voice),
                "rtf_one_core": round(rtf, 3),
                "first_audio_ms_median": round(statistics.median(delays), 1),
                "first_audio_ms_p95": round(float(np.percentile(delays, 95)), 1),
                "first_audio_ms_each": [round(delay) for delay in delays],
            }
        )
    if not args.voices_only:
        piper = [v for v in all_voices if isinstance(v, PiperVoice)]
        results += await echo_figures(piper[0] if piper else all_voices[0])
        results.append(await barge_in_ms())
    for row in results:
        print(json.dumps(row) if args.json else "  ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    asyncio.run(main())
