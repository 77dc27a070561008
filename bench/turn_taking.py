#!/usr/bin/env python3
"""Turn-taking benchmark, the audio layer's half: when does each turn detector commit a turn?

Real human speech (Debian's `asterisk-core-sounds-en-wav`: 358 prompts read by one talker,
8 kHz, resampled to 16 kHz) made into two kinds of turns, clean and in pink noise at 10 dB SNR:

- complete turns: a prompt, then 2.5 s of silence;
- paused turns: a prompt with one of its inner between-word gaps widened to a mid-sentence
  pause of 0.7, 1.0 or 1.35 s, then 2.5 s of silence.

Each turn detector (`silence`: today's 0.8 s rule; `smart-turn`: Smart Turn v3.2 at a 0.2 s
pause, committing at a probability of 0.9; `smart-0.5` and `smart-0.98`: the same at other
commit thresholds, 0.5 being pipecat's) cuts every file with `segment`, whose clock is the
stream (so the figures are those of a live microphone, minus the model's compute time,
reported apart as CPU). Reported:
committed-turn latency (`emitted_at` - true end of speech; median, p90) on complete turns; the
share of complete turns ended early (committed before the speech ended, or split); the share
of mid-sentence pauses cut, by pause length; CPU seconds per second of audio.

With `--end-to-end`, the other half (`bench/turn_taking_live.py`): `silence`, `smart-turn` and
`smart-turn` + speculative requests through the real listening loop at a microphone's pace,
against the scripted server with a modeled GPU latency, each in its own process, side by side
over the same audio. Usage:

    .venv/bin/python bench/turn_taking.py [--prompts 80] [--vad webrtc]
    .venv/bin/python bench/turn_taking.py --end-to-end [--prompts 24] [--model-ms 250]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent.audio import Endpointer, EndpointerConfig, decode_audio, level_dbfs, segment

PROMPTS = Path("/usr/share/asterisk/sounds/en")
RATE = 16_000
PAUSES_S = (0.7, 1.0, 1.35)
TRAILING_S = 2.5
LEADING_S = 0.5
PCM = npt.NDArray[np.int16]


@dataclass
class Item:
    """One benchmark file: its audio, where the speech ends, and the pause in it (if any)."""

    name: str
    audio: PCM
    speech_end: float
    pause_s: float | None = None
    resumes_at: float | None = None  # where the speech after the pause starts


@dataclass
class Tally:
    """What one turn detector did over one condition."""

    latencies: list[float] = field(default_factory=list)
    complete: int = 0
    early: int = 0
    pauses: dict[float, list[bool]] = field(default_factory=dict)
    cpu_s: float = 0.0
    audio_s: float = 0.0


def levels_10ms(pcm: PCM) -> npt.NDArray[np.float64]:
    frames = pcm[: pcm.size - pcm.size % 160].reshape(-1, 160)
    return np.array([level_dbfs(frame) for frame in frames])


def speech_span(levels: npt.NDArray[np.float64]) -> tuple[int, int]:
    """First and one-past-last 10 ms frame within 35 dB of the loudest."""
    loud = np.nonzero(levels > levels.max() - 35.0)[0]
    return int(loud[0]), int(loud[-1]) + 1


def inner_gap(levels: npt.NDArray[np.float64], first: int, last: int) -> tuple[int, int] | None:
    """The longest run (>= 40 ms) of frames 30 dB under the peak, in the middle half."""
    quiet = levels < levels.max() - 30.0
    lo, hi = first + (last - first) // 4, last - (last - first) // 4
    best: tuple[int, int] | None = None
    start = None
    for index in range(lo, hi):
        if quiet[index] and start is None:
            start = index
        elif not quiet[index] and start is not None:
            if index - start >= 4 and (best is None or index - start > best[1] - best[0]):
                best = (start, index)
            start = None
    return best


def build_items(count: int) -> list[Item]:
    """Complete and paused turns from the first `count` prompts of 1.2-6 s."""
    items: list[Item] = []
    lead, tail = (
        np.zeros(round(LEADING_S * RATE), np.int16),
        np.zeros(round(TRAILING_S * RATE), np.int16),
    )
    paths = sorted(PROMPTS.glob("*.wav"))
    prompts = [(p, decode_audio(p)) for p in paths]
    prompts = [(p, pcm) for p, pcm in prompts if 1.2 <= pcm.size / RATE <= 6.0][:count]
    for number, (path, pcm) in enumerate(prompts):
        levels = levels_10ms(pcm)
        first, last = speech_span(levels)
        end = LEADING_S + last * 0.01
        items.append(Item(path.stem, np.concatenate([lead, pcm, tail]), end))
        gap = inner_gap(levels, first, last)
        if gap is None:
            continue
        pause = PAUSES_S[number % len(PAUSES_S)]
        cut = (gap[0] + gap[1]) // 2 * 160
        widened = np.zeros(round(pause * RATE) - (gap[1] - gap[0]) * 160 // 2, np.int16)
        audio = np.concatenate([lead, pcm[:cut], widened, pcm[cut:], tail])
        resumes = LEADING_S + (gap[1] * 160 + widened.size) / RATE
        items.append(Item(path.stem, audio, end + widened.size / RATE, pause, resumes))
    return items


def with_noise(items: list[Item], snr_db: float, seed: int = 5) -> list[Item]:
    """The same turns in pink noise at `snr_db` below the speech's active power."""
    rng = np.random.default_rng(seed)
    noisy = []
    for item in items:
        speech = item.audio.astype(np.float64)
        active = speech[np.abs(speech) > 100]
        power = float(np.mean(active**2)) if active.size else 1.0
        white = np.fft.rfft(rng.standard_normal(speech.size))
        pink = np.fft.irfft(white / np.sqrt(np.maximum(np.arange(white.size), 1)), speech.size)
        pink *= np.sqrt(power / 10 ** (snr_db / 10) / np.mean(pink**2))
        mixed = np.clip(speech + pink, -32768, 32767).astype(np.int16)
        noisy.append(Item(item.name, mixed, item.speech_end, item.pause_s, item.resumes_at))
    return noisy


def run(endpointer: Endpointer, items: list[Item]) -> Tally:
    tally = Tally()
    for item in items:
        started = time.process_time()
        turns = segment(item.audio, sample_rate=RATE, endpointer=endpointer)
        tally.cpu_s += time.process_time() - started
        tally.audio_s += item.audio.size / RATE
        if item.pause_s is None:
            tally.complete += 1
            ended_early = not turns or turns[0].emitted_at < item.speech_end or len(turns) > 1
            tally.early += ended_early
            if turns and not ended_early:
                tally.latencies.append(turns[0].emitted_at - item.speech_end)
        else:
            assert item.resumes_at is not None
            cut = any(turn.emitted_at < item.resumes_at for turn in turns)
            tally.pauses.setdefault(item.pause_s, []).append(cut)
    return tally


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def report(condition: str, name: str, tally: Tally) -> str:
    cuts = "  ".join(
        f"{pause:.2f}s {100 * sum(cut) / len(cut):3.0f}% ({len(cut)})"
        for pause, cut in sorted(tally.pauses.items())
    )
    median = 1000 * statistics.median(tally.latencies) if tally.latencies else float("nan")
    return (
        f"{condition:8} {name:11} {median:6.0f} {1000 * percentile(tally.latencies, 0.9):6.0f}"
        f" {100 * tally.early / max(1, tally.complete):6.1f}%  {cuts}   "
        f"RTF {tally.cpu_s / tally.audio_s:.4f}"
    )


LIVE_CONFIGS = {
    "silence": ("silence", False),
    "smart-turn": ("smart-turn", False),
    "smart-turn + speculation": ("smart-turn", True),
}


def end_to_end(prompts: int, model_ms: float, vad: str, only: str | None) -> int:
    """The three configurations side by side over each condition, one process each."""
    import turn_taking_live as live

    clean = build_items(prompts)
    conditions = {"clean": clean, "pink10": with_noise(clean, 10.0)}
    if only is not None:
        conditions = {only: conditions[only]}
    complete = sum(item.pause_s is None for item in clean)
    print(
        f"{complete} complete and {len(clean) - complete} paused turns per condition, at a "
        f"microphone's pace; modeled server: {model_ms:.0f} ms for a tool call; vad={vad}"
    )
    print(live.HEADER)
    for condition, items in conditions.items():
        stream, placed = _one_stream(items)
        with tempfile.TemporaryDirectory() as folder:
            path = f"{folder}/stream.npy"
            np.save(path, stream)
            children = {
                name: _child(path, placed, detector, speculate, model_ms / 250.0, vad)
                for name, (detector, speculate) in LIVE_CONFIGS.items()
            }
            for name, process in children.items():
                out, _ = process.communicate()
                if process.returncode != 0:
                    print(f"{name}: failed ({process.returncode})", file=sys.stderr)
                    return 1
                print(live.report_line(condition, name, json.loads(out)), flush=True)
    return 0


def _child(
    path: str,
    placed: list[dict[str, float | None]],
    detector: str,
    speculate: bool,
    scale: float,
    vad: str,
) -> subprocess.Popen[str]:
    """One configuration's run, in a process of its own."""
    command = [sys.executable, __file__, "--child", path, json.dumps(placed), detector]
    command += [str(int(speculate)), str(scale), vad]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def _one_stream(items: list[Item]) -> tuple[PCM, list[dict[str, float | None]]]:
    """The items one after the other, and where each one is in the stream."""
    placed, offset = [], 0.0
    for item in items:
        placed.append(
            {
                "offset": offset,
                "length": item.audio.size / RATE,
                "speech_end": offset + item.speech_end,
                "pause_s": item.pause_s,
                "resumes_at": None if item.resumes_at is None else offset + item.resumes_at,
            }
        )
        offset += item.audio.size / RATE
    return np.concatenate([item.audio for item in items]), placed


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["--child"]:
        import turn_taking_live as live

        path, placed, detector, speculate, scale, vad = arguments[1:7]
        print(live.child(path, placed, detector, speculate == "1", float(scale), vad))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=None)
    parser.add_argument("--vad", default="webrtc", choices=["webrtc", "silero", "both"])
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--model-ms", type=float, default=250.0)
    parser.add_argument("--condition", choices=["clean", "pink10"], default=None)
    args = parser.parse_args(arguments)
    if not PROMPTS.is_dir():
        print(f"needs {PROMPTS}: apt-get install asterisk-core-sounds-en-wav", file=sys.stderr)
        return 2
    if args.end_to_end:
        return end_to_end(args.prompts or 24, args.model_ms, args.vad, args.condition)
    clean = build_items(args.prompts or 80)
    conditions = {"clean": clean, "pink10": with_noise(clean, 10.0)}
    detectors = {
        "silence": Endpointer(EndpointerConfig(vad=args.vad)),
        "smart-turn": Endpointer(EndpointerConfig(vad=args.vad, turn_detector="smart-turn")),
        "smart-0.5": Endpointer(
            EndpointerConfig(vad=args.vad, turn_detector="smart-turn", turn_commit_threshold=0.5)
        ),
        "smart-0.98": Endpointer(
            EndpointerConfig(vad=args.vad, turn_detector="smart-turn", turn_commit_threshold=0.98)
        ),
    }
    complete = sum(item.pause_s is None for item in clean)
    print(f"{complete} complete and {len(clean) - complete} paused turns; vad={args.vad}")
    print("cond.    detector    lat50  lat90  early   pauses cut (by length)")
    for condition, items in conditions.items():
        for name, endpointer in detectors.items():
            print(report(condition, name, run(endpointer, items)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
