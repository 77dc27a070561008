#!/usr/bin/env python3
"""Turn-taking benchmark, the audio layer's half: when does each turn detector commit a turn?

Real human speech (Debian's `asterisk-core-sounds-en-wav`, with its texts in
`asterisk-core-sounds-en`: 358 prompts read by one talker, 8 kHz, resampled to 16 kHz) made into
two kinds of turns, clean and in pink noise at 10 dB SNR:

- complete turns: a prompt, then 2.5 s of silence;
- paused turns: a prompt with one of its inner between-word gaps widened to a mid-sentence
  pause of 0.7, 1.0 or 1.35 s, then 2.5 s of silence.

Only prompts of one sentence are used (their texts are in the package's `core-sounds-en.txt`):
"Login incorrect.  Please enter your agent number..." holds a true end of turn after its first
sentence, so it is neither a complete turn without one nor a place for a mid-sentence pause.
The turns play one after the other as one stream, as a microphone would hear a conversation,
and the noise runs through the whole stream at one level (each turn starting out of silence,
its noise switched on with it, would measure the detector's start-up instead).

Each turn detector (`silence`: today's 0.8 s rule; `smart-turn`: Smart Turn v3.2 at a 0.2 s
pause, committing at a probability of 0.9, adapting to the talker (the default);
`smart-fixed`: the same without adapting; `smart-fall`: the default, also committing at 0.8
when the pitch fell at the end (`turn_fall_threshold`); `smart-0.5` and `smart-0.98`: other
commit thresholds, 0.5 being pipecat's) cuts the stream with `segment`, whose clock is the
stream (so the figures are those of a live microphone, minus the model's compute time,
reported apart as CPU). Reported:
committed-turn latency (`emitted_at` - true end of speech; median, p90) on complete turns; the
share of complete turns ended early (committed before the speech ended, or split); the share
of mid-sentence pauses cut, by pause length; CPU seconds per second of audio.

With `--end-to-end`, the other half (`bench/turn_taking_live.py`): `silence`, `smart-turn`,
`smart-turn` + speculative requests and `smart-fixed` + speculative requests through the real
listening loop at a microphone's pace, against the scripted server with a modeled GPU latency,
each in its own process over the same stream, one after the other (`--jobs N` runs N at once,
sharing the CPU: on 2 cores that delays each Smart Turn verdict by about 200 ms). Usage:

    .venv/bin/python bench/turn_taking.py [--prompts 80] [--vad webrtc] [--corpus asterisk]
    .venv/bin/python bench/turn_taking.py --end-to-end [--prompts 24] [--model-ms 250] [--jobs 1]

`--corpus asterisk-fr`, `asterisk-it` and `asterisk-es` are the same prompts read by other
talkers in other languages (June, Canadian French; Carlo, Italian; Allison again in Mexican
Spanish: `apt-get install asterisk-core-sounds-fr-wav asterisk-core-sounds-fr`, and so on), the
turn model's figures on talkers it was not tuned on. `--corpus pocketsphinx` uses
`pocketsphinx-testdata`'s read sentences (other talkers, few), and `--corpus FOLDER` any folder
of recordings (WAV, FLAC, Ogg, MP3; any rate), each one utterance of one sentence: the same
turns are made of them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import turn_taking_live as live

from agent.audio import (
    Endpointer,
    EndpointerConfig,
    SmartTurn,
    decode_audio,
    level_dbfs,
    segment,
)

ASTERISK_LANGUAGES = {
    "asterisk": "en",
    "asterisk-fr": "fr",
    "asterisk-it": "it",
    "asterisk-es": "es",
}
POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
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


def loud_threshold(levels: npt.NDArray[np.float64], below_peak: float) -> float:
    """`below_peak` dB under the loudest frame, but at least 6 dB over the recording's own
    background (its 10th-percentile level), so a noisy recording's hiss is not speech."""
    return max(float(levels.max()) - below_peak, float(np.percentile(levels, 10)) + 6.0)


def speech_span(levels: npt.NDArray[np.float64]) -> tuple[int, int]:
    """First and one-past-last 10 ms frame within 35 dB of the loudest (and over the hiss)."""
    loud = np.nonzero(levels > loud_threshold(levels, 35.0))[0]
    return int(loud[0]), int(loud[-1]) + 1


def inner_gap(levels: npt.NDArray[np.float64], first: int, last: int) -> tuple[int, int] | None:
    """The longest run (>= 40 ms) of frames 30 dB under the peak (or down in the recording's
    background), in the middle half."""
    quiet = levels < loud_threshold(levels, 30.0)
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


def asterisk_folders(language: str) -> tuple[Path, Path]:
    """Where Debian keeps the asterisk prompts in `language`, and their texts."""
    sounds = Path(f"/usr/share/asterisk/sounds/{language}")
    return sounds, Path(
        f"/usr/share/doc/asterisk-core-sounds-{language}/core-sounds-{language}.txt.gz"
    )


def prompt_texts(texts_path: Path) -> dict[str, str]:
    """What each prompt says, by file stem (the package's `core-sounds-XX.txt`)."""
    texts = {}
    with gzip.open(texts_path, "rt", errors="replace") as lines:
        for line in lines:
            name, colon, text = line.partition(":")
            if colon and not line.startswith(";"):
                texts[name.strip()] = text.strip()
    return texts


def one_sentence(text: str) -> bool:
    """Whether `text` is a single sentence (no sentence end before its last word)."""
    return len([part for part in re.split(r"(?<=[.?!])\s+", text.strip()) if part]) == 1


def corpus_paths(corpus: str) -> list[Path]:
    """The recordings of `corpus`: "asterisk" (its one-sentence prompts; "asterisk-fr",
    "asterisk-it", "asterisk-es": in other languages), "pocketsphinx" (`pocketsphinx-testdata`'s
    read sentences, other talkers), or a folder of recordings, each one utterance of one
    sentence (searched recursively)."""
    if corpus in ASTERISK_LANGUAGES:
        language = ASTERISK_LANGUAGES[corpus]
        prompts, texts_path = asterisk_folders(language)
        if not (prompts.is_dir() and texts_path.is_file()):
            raise SystemExit(
                f"needs {prompts} and {texts_path}: apt-get install "
                f"asterisk-core-sounds-{language}-wav asterisk-core-sounds-{language}"
            )
        texts = prompt_texts(texts_path)
        return [p for p in sorted(prompts.glob("*.wav")) if one_sentence(texts.get(p.stem, ". ."))]
    folder = POCKETSPHINX if corpus == "pocketsphinx" else Path(corpus)
    if not folder.is_dir():
        hint = "apt-get install pocketsphinx-testdata" if corpus == "pocketsphinx" else "a folder"
        raise SystemExit(f"needs {folder}: {hint}")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)


def build_items(count: int, corpus: str = "asterisk") -> list[Item]:
    """Complete and paused turns from the first `count` recordings of 1.2-6 s of `corpus`."""
    items: list[Item] = []
    lead, tail = (
        np.zeros(round(LEADING_S * RATE), np.int16),
        np.zeros(round(TRAILING_S * RATE), np.int16),
    )
    prompts = [(p, decode_audio(p)) for p in corpus_paths(corpus)]
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
    """The same turns in one pink noise, `snr_db` below the speech's mean active power,
    running on through the stream (each item gets the next stretch of it)."""
    rng = np.random.default_rng(seed)
    total = sum(item.audio.size for item in items)
    white = np.fft.rfft(rng.standard_normal(total))
    pink = np.fft.irfft(white / np.sqrt(np.maximum(np.arange(white.size), 1)), total)
    active = np.concatenate([item.audio[np.abs(item.audio) > 100] for item in items])
    power = float(np.mean(active.astype(np.float64) ** 2)) if active.size else 1.0
    pink *= np.sqrt(power / 10 ** (snr_db / 10) / np.mean(pink**2))
    noisy, offset = [], 0
    for item in items:
        stretch = pink[offset : offset + item.audio.size]
        offset += item.audio.size
        mixed = np.clip(item.audio + stretch, -32768, 32767).astype(np.int16)
        noisy.append(Item(item.name, mixed, item.speech_end, item.pause_s, item.resumes_at))
    return noisy


def run(endpointer: Endpointer, items: list[Item]) -> Tally:
    """Segment the items as one stream; tally the turns as the end-to-end half does."""
    stream, placed = _one_stream(items)
    endpointer.reset()
    started = time.process_time()
    turns = segment(stream, sample_rate=RATE, endpointer=endpointer)
    cpu_s = time.process_time() - started
    committed: list[dict[str, Any]] = [
        {"speech_end": t.end, "committed_at": t.emitted_at, "dispatched_at": None,
         "from_speculation": False}
        for t in turns
    ]  # fmt: skip
    result = live.LiveResult(turns=committed, cpu_s=cpu_s, audio_s=stream.size / RATE)
    figures = live.tally([live.Placed(**where) for where in placed], result)
    return Tally(
        latencies=figures["latency"],
        complete=figures["complete"],
        early=figures["early"],
        pauses={float(pause): cuts for pause, cuts in figures["pauses"].items()},
        cpu_s=cpu_s,
        audio_s=result.audio_s,
    )


def report(condition: str, name: str, tally: Tally) -> str:
    cuts = "  ".join(
        f"{pause:.2f}s {100 * sum(cut) / len(cut):3.0f}% ({len(cut)})"
        for pause, cut in sorted(tally.pauses.items())
    )
    median = 1000 * statistics.median(tally.latencies) if tally.latencies else float("nan")
    p90 = live.percentile(tally.latencies, 0.9)
    return (
        f"{condition:8} {name:17} {median:6.0f} {1000 * p90:6.0f}"
        f" {100 * tally.early / max(1, tally.complete):6.1f}%  {cuts}   "
        f"RTF {tally.cpu_s / tally.audio_s:.4f}"
    )


def offline_configs(vad: str) -> dict[str, EndpointerConfig]:
    """The offline rows: the two detectors, and variants of the smart-turn default (side by
    side, so what each setting changes is measured on the same audio)."""
    smart = EndpointerConfig(vad=vad, turn_detector="smart-turn")  # type: ignore[arg-type]
    return {
        "silence": EndpointerConfig(vad=vad),  # type: ignore[arg-type]
        "smart-turn": smart,
        "smart-fixed": smart.with_overrides(turn_adapt=False),
        "smart-fall": smart.with_overrides(turn_fall_threshold=0.8),
        "smart-0.5": smart.with_overrides(turn_commit_threshold=0.5),
        "smart-0.98": smart.with_overrides(turn_commit_threshold=0.98),
    }


LIVE_CONFIGS = {
    "silence": ("silence", False),
    "smart-turn": ("smart-turn", False),
    "smart-turn + speculation": ("smart-turn", True),
    "smart-fixed + speculation": ("smart-fixed", True),
}


def end_to_end(
    prompts: int, model_ms: float, vad: str, only: str | None, corpus: str, jobs: int
) -> int:
    """The configurations over the same stream of each condition, each in its own process,
    `jobs` at a time (1: each alone, so no configuration's Smart Turn waits for another's CPU:
    their pauses come at the same moments of the same stream)."""
    clean = build_items(prompts, corpus)
    conditions = {"clean": clean, "pink10": with_noise(clean, 10.0)}
    if only is not None:
        conditions = {only: conditions[only]}
    complete = sum(item.pause_s is None for item in clean)
    print(
        f"{complete} complete and {len(clean) - complete} paused turns per condition, at a "
        f"microphone's pace; modeled server: {model_ms:.0f} ms for a tool call; vad={vad}; "
        f"{jobs} configuration(s) at a time"
    )
    print(live.HEADER)
    configs = list(LIVE_CONFIGS.items())
    for condition, items in conditions.items():
        stream, placed = _one_stream(items)
        with tempfile.TemporaryDirectory() as folder:
            path = f"{folder}/stream.npy"
            np.save(path, stream)
            for first in range(0, len(configs), jobs):
                children = {
                    name: _child(path, placed, detector, speculate, model_ms / 250.0, vad)
                    for name, (detector, speculate) in configs[first : first + jobs]
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
        path, placed, detector, speculate, scale, vad = arguments[1:7]
        print(live.child(path, placed, detector, speculate == "1", float(scale), vad))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=None)
    parser.add_argument("--vad", default="webrtc", choices=["webrtc", "silero", "both"])
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--model-ms", type=float, default=250.0)
    parser.add_argument("--condition", choices=["clean", "pink10"], default=None)
    parser.add_argument(
        "--jobs", type=int, default=1, help="--end-to-end configurations run at once (default 1)"
    )
    parser.add_argument(
        "--corpus",
        default="asterisk",
        help=f"{', '.join(ASTERISK_LANGUAGES)} (asterisk, the default, is English), "
        "pocketsphinx, or a folder of one-sentence recordings",
    )
    args = parser.parse_args(arguments)
    if args.end_to_end:
        prompts = args.prompts or 24
        return end_to_end(
            prompts, args.model_ms, args.vad, args.condition, args.corpus, max(1, args.jobs)
        )
    clean = build_items(args.prompts or 80, args.corpus)
    if not clean:
        print(f"no recordings of 1.2-6 s in {args.corpus}", file=sys.stderr)
        return 2
    conditions = {"clean": clean, "pink10": with_noise(clean, 10.0)}
    model = SmartTurn()  # one ONNX session for every smart-turn row (the silence rule ignores it)
    configs = offline_configs(args.vad)
    detectors = {name: Endpointer(config, turn_model=model) for name, config in configs.items()}
    complete = sum(item.pause_s is None for item in clean)
    print(f"{complete} complete and {len(clean) - complete} paused turns; vad={args.vad}")
    print("cond.    detector          lat50  lat90  early   pauses cut (by length)")
    for condition, items in conditions.items():
        for name, endpointer in detectors.items():
            print(report(condition, name, run(endpointer, items)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
