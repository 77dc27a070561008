"""`SpeechQueue`: a reply spoken in order as it streams in; interrupted, it says what was heard."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.audio import segment
from agent.speech import (
    EspeakVoice,
    SpeakingFinished,
    SpeakingInterrupted,
    SpeakingStarted,
    SpeechChunk,
    SpeechEvent,
    SpeechQueue,
    Spoken,
    WavSink,
    WordTiming,
)
from tests.speech.conftest import interrupt_midway

REPLY = "**Sure.** The first sentence is short. The second one is a little longer than that. Bye."


async def test_a_streamed_reply_is_spoken_in_order_to_the_end(
    espeak: EspeakVoice, tmp_path: Path
) -> None:
    events: list[SpeechEvent] = []
    sink = WavSink(tmp_path / "reply.wav")
    queue = SpeechQueue(espeak, sink, on_event=events.append)
    for piece in [REPLY[i : i + 5] for i in range(0, len(REPLY), 5)]:
        queue.feed(piece)
    queue.finish()
    spoken = await queue.wait()
    await sink.aclose()
    text = "Sure. The first sentence is short. The second one is a little longer than that. Bye."
    assert spoken.heard == spoken.text == text and not spoken.interrupted
    assert events == [SpeakingStarted("Sure."), SpeakingFinished(text)]
    assert len(segment(tmp_path / "reply.wav")) >= 1


async def test_interrupted_it_returns_the_words_played(espeak: EspeakVoice, tmp_path: Path) -> None:
    now = [0.0]
    sink = WavSink(tmp_path / "cut.wav", clock=lambda: now[0])
    events: list[SpeechEvent] = []
    queue = SpeechQueue(espeak, sink, on_event=events.append)
    queue.feed(REPLY)
    queue.finish()
    spoken, played = await interrupt_midway(queue, sink, now, 2)  # half way through sentence 3
    await sink.aclose()
    assert spoken.interrupted
    assert spoken.heard.startswith("Sure. The first sentence is short. The second")
    assert "than that" not in spoken.heard and "Bye" not in spoken.heard
    assert events[-1] == SpeakingInterrupted(spoken.heard, spoken.text)
    written = sf.info(str(tmp_path / "cut.wav")).frames
    assert written == pytest.approx(played, abs=2)


async def test_interrupted_before_any_sound_nothing_was_heard(
    espeak: EspeakVoice, tmp_path: Path
) -> None:
    sink = WavSink(tmp_path / "none.wav", clock=lambda: 0.0)
    queue = SpeechQueue(espeak, sink)
    queue.feed(REPLY)
    spoken = await queue.interrupt()
    await sink.aclose()
    assert spoken.heard == "" and spoken.interrupted


class WordClock:
    """A stand-in engine that gives word timings (espeak-ng's command line and Piper give
    none): each word is 0.1 s of sound at 16 kHz."""

    name = "word-clock"
    sample_rate = 16_000

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        words = list(re.finditer(r"\S+", text))
        timings = tuple(WordTiming(m.start(), m.end(), i * 1600) for i, m in enumerate(words))
        yield SpeechChunk(np.tile(np.array([1000, -1000], np.int16), 800 * len(words)), timings)


async def test_with_word_timings_the_heard_text_ends_at_the_last_word_played_through(
    tmp_path: Path,
) -> None:
    now = [0.0]
    sink = WavSink(tmp_path / "words.wav", clock=lambda: now[0])
    queue = SpeechQueue(WordClock(), sink)
    queue.say("One two, three four five.")  # two clauses: timings shift with the second
    queue.finish()
    while not (queue._sentences and queue._sentences[0].synthesized):
        await asyncio.sleep(0.01)
    now[0] = 0.45  # words end at 0.1, 0.2 | 0.3, 0.4, 0.5 s
    spoken = await queue.interrupt()
    await sink.aclose()
    assert spoken == Spoken("One two, three four", "One two, three four five.", True)
