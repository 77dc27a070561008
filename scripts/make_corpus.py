#!/usr/bin/env python3
"""Build the test corpus: spoken commands laid out with known silences, clean and in noise.

Speech comes from espeak-ng (several voices and speeds), resampling and noise from sox; numpy
mixes. Every file holds the same utterances at the same times, so results compare across noise
types and SNRs:

    clean.wav                              speech over a -70 dBFS noise floor
    quiet.wav                              the same 12 dB softer (a quiet talker: -38..-32 dBFS)
    reverb.wav                             the same in a reverberant room (sox reverb)
    {white,pink,brown}_{20,10,5,0}db.wav   speech plus noise at that SNR
    truth.json                             start and end (s) of every utterance, per file

Speech sits at realistic microphone levels: each utterance's active RMS is drawn between -26 and
-20 dBFS. Like real talkers, some commands pause inside ("Set a timer ... for five minutes":
a `|` in the phrase is a pause of 0.45 to 0.6 s); such an utterance must stay whole, and so must
one-word answers ("Stop", "Yes") that are barely longer than a click. The SNR
compares the mean active speech power with the noise power. Output is deterministic for given
arguments; a stamp file makes a second run with the same arguments a no-op (`--force`
rebuilds).

Usage: scripts/make_corpus.py [--out tests/corpus/generated] [--utterances 10] [--seed 7]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

RATE = 16_000
VERSION = 4
PHRASES = [
    "Set a timer | for five minutes",
    "What is the weather like in Paris tomorrow",
    "Turn off the lights in the kitchen",
    "Add milk and eggs to my shopping list",
    "Remind me to call my mother | at six",
    "How far is it from Berlin to Munich",
    "Play some quiet music in the living room",
    "What time is it in Tokyo right now",
    "Convert twenty dollars | to euros please",
    "Stop",
    "Cancel the alarm for tomorrow morning",
    "Yes",
]
VOICES = ["en-us", "en-gb+f3", "en-gb-scotland", "en-us+m3", "en-029+f2", "en-gb-x-rp+m5"]
SPEEDS = [150, 165, 175, 160]
GAPS_S = [1.2, 1.6, 2.2, 1.4, 3.0, 1.8]
PAUSES_S = [0.45, 0.6, 0.5]
"""Pauses inside an utterance (at a `|`): shorter than the endpointer's end silence."""
LEAD_S = 1.0
NOISES = ["white", "pink", "brown"]
SNRS_DB = [20, 10, 5, 0]
SPEECH_DBFS = (-26.0, -20.0)
FLOOR_DBFS = -70.0
QUIET_DB = -12.0
"""Gain of quiet.wav against clean.wav."""
REVERB = ["50", "50", "70"]
"""sox reverb: reverberance %, HF damping %, room scale %: a living room, not a cathedral."""

Float = npt.NDArray[np.float64]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/corpus/generated"))
    parser.add_argument("--utterances", type=int, default=10, help="utterances per file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        print(f"make_corpus: missing {', '.join(missing)} (apt-get install espeak-ng sox)")
        return 2
    truth = build(args.out, utterances=args.utterances, seed=args.seed, force=args.force)
    print(truth)
    return 0


def build(out: Path, *, utterances: int = 10, seed: int = 7, force: bool = False) -> Path:
    """Write the corpus into `out`; return the path of truth.json."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:  # several test runs may build at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(out, utterances, seed, force)


def _build_locked(out: Path, utterances: int, seed: int, force: bool) -> Path:
    stamp = out / "stamp.json"
    settings = {"version": VERSION, "utterances": utterances, "seed": seed}
    truth_path = out / "truth.json"
    if not force and truth_path.exists() and _read_json(stamp) == settings:
        return truth_path
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="corpus-") as tmp:
        speech, spans = _lay_out(Path(tmp), utterances, rng)
        active = np.concatenate([speech[_samples(a) : _samples(b)] for a, b, *_ in spans])
        speech_power = float(np.mean(active**2))
        files = []
        floor = _noise(Path(tmp), "white", speech.size, seed) * 10 ** (FLOOR_DBFS / 20)
        files.append(_write(out, "clean", speech + floor, None, None, spans))
        quiet = [(a, b, t, v, level + QUIET_DB) for a, b, t, v, level in spans]
        files.append(
            _write(out, "quiet", speech * 10 ** (QUIET_DB / 20) + floor, None, None, quiet)
        )
        reverberant = _reverb(Path(tmp), speech) + floor
        files.append(_write(out, "reverb", reverberant, "reverb", None, spans))
        for kind in NOISES:
            noise = _noise(Path(tmp), kind, speech.size, seed)
            for snr in SNRS_DB:
                gain = np.sqrt(speech_power / 10 ** (snr / 10))
                mix = speech + noise * gain
                files.append(_write(out, f"{kind}_{snr}db", mix, kind, snr, spans))
    truth = {"sample_rate": RATE, "files": files}
    truth_path.write_text(json.dumps(truth, indent=1))
    stamp.write_text(json.dumps(settings))
    return truth_path


def _lay_out(tmp: Path, count: int, rng: np.random.Generator) -> tuple[Float, list[tuple]]:
    """Speak `count` commands and place them with known gaps; return audio and truth spans."""
    pieces: list[Float] = [np.zeros(_samples(LEAD_S))]
    position = LEAD_S
    spans = []
    for index in range(count):
        text = PHRASES[index % len(PHRASES)]
        voice = VOICES[index % len(VOICES)]
        speed = SPEEDS[index % len(SPEEDS)]
        clip = _speak_with_pauses(tmp, text, voice, speed, index)
        level = float(rng.uniform(*SPEECH_DBFS))
        clip = clip * (10 ** (level / 20) / np.sqrt(np.mean(clip**2)))
        spoken = text.replace(" | ", " ")
        spans.append((position, position + clip.size / RATE, spoken, voice, round(level, 1)))
        gap = GAPS_S[index % len(GAPS_S)]
        pieces += [clip, np.zeros(_samples(gap))]
        position += clip.size / RATE + gap
    return np.concatenate(pieces), spans


def _speak_with_pauses(tmp: Path, text: str, voice: str, speed: int, index: int) -> Float:
    """Speak the parts of `text` split at `|`, each trimmed, with a pause between them."""
    parts = []
    for number, part in enumerate(text.split("|")):
        if number:
            parts.append(np.zeros(_samples(PAUSES_S[(index + number) % len(PAUSES_S)])))
        clip = _speak(tmp, part.strip(), voice, speed)
        first, last = _active_bounds(clip)
        parts.append(clip[first:last])
    return np.concatenate(parts)


def _speak(tmp: Path, text: str, voice: str, speed: int) -> Float:
    raw, wav = tmp / "raw.wav", tmp / "speech.wav"
    _run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text])
    _run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)])
    samples, _ = sf.read(wav, dtype="float64")
    return np.asarray(samples)


def _active_bounds(clip: Float) -> tuple[int, int]:
    """First and last sample of the 10 ms windows within 40 dB of the loudest one."""
    window = RATE // 100
    frames = clip[: clip.size - clip.size % window].reshape(-1, window)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (-40 / 20))
    return int(loud[0]) * window, int(loud[-1] + 1) * window


def _reverb(tmp: Path, speech: Float) -> Float:
    """The speech in a reverberant room (sox's reverb, wet and dry), same length and timing.

    The truth keeps the dry speech's bounds: the reverberation tail is not speech.
    """
    dry, wet = tmp / "dry.wav", tmp / "wet.wav"
    sf.write(dry, speech.astype(np.float32), RATE, subtype="FLOAT")
    _run(["sox", str(dry), "-b", "32", "-e", "floating-point", str(wet), "reverb", *REVERB])
    samples, _ = sf.read(wet, dtype="float64")
    return np.asarray(samples)[: speech.size]


def _noise(tmp: Path, kind: str, size: int, seed: int) -> Float:
    """Noise of unit RMS from sox's generator (repeatable with -R)."""
    path = tmp / f"{kind}.wav"
    seconds = f"{size / RATE + 0.1:.3f}"
    synth = ["synth", seconds, f"{kind}noise", "vol", "0.5"]
    _run(["sox", "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(path), *synth])
    samples, _ = sf.read(path, dtype="float64")
    noise = np.asarray(samples)[:size]
    noise = noise - noise.mean()
    return noise / np.sqrt(np.mean(noise**2))


def _write(
    out: Path, name: str, audio: Float, noise: str | None, snr: int | None, spans: list[tuple]
) -> dict[str, object]:
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:  # keep the mix unclipped; the SNR is unchanged by a common gain
        audio = audio * (0.99 / peak)
    partial = out / f".{name}.partial.wav"  # readers never see a half-written file
    sf.write(partial, audio.astype(np.float32), RATE, subtype="PCM_16")
    os.replace(partial, out / f"{name}.wav")
    return {
        "path": f"{name}.wav",
        "noise": noise,
        "snr_db": snr,
        "duration": round(audio.size / RATE, 3),
        "utterances": [
            {"start": round(a, 3), "end": round(b, 3), "text": t, "voice": v, "dbfs": level}
            for a, b, t, v, level in spans
        ],
    }


def _samples(seconds: float) -> int:
    return round(seconds * RATE)


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


if __name__ == "__main__":
    sys.exit(main())
