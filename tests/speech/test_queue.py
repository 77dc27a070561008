"""`SpeechQueue`: a reply spoken in order as it streams in; interrupted, it says what was heard."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import soundfile as sf

from agent.audio import segment
from agent.speech import (
    EspeakVoice,
    SpeakingFinished,
    SpeakingInterrupted,
    SpeakingStarted,
    SpeechEvent,
    SpeechQueue,
    WavSink,
)

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
    while len(queue._sentences) < 4 or not all(s.synthesized for s in queue._sentences):
        await asyncio.sleep(0.01)  # wait for synthesis to finish (a condition, not a time)
    first_two = sum(p.samples for s in queue._sentences[:2] for p in s.playbacks)
    second = sum(p.samples for p in queue._sentences[2].playbacks)
    now[0] = (first_two + second * 0.5) / sink.sample_rate  # half way through sentence 3
    spoken = await queue.interrupt()
    await sink.aclose()
    assert spoken.interrupted
    assert spoken.heard.startswith("Sure. The first sentence is short. The second")
    assert "than that" not in spoken.heard and "Bye" not in spoken.heard
    assert events[-1] == SpeakingInterrupted(spoken.heard, spoken.text)
    written = sf.info(str(tmp_path / "cut.wav")).frames
    assert written == pytest.approx(first_two + second * 0.5, abs=2)


async def test_interrupted_before_any_sound_nothing_was_heard(
    espeak: EspeakVoice, tmp_path: Path
) -> None:
    sink = WavSink(tmp_path / "none.wav", clock=lambda: 0.0)
    queue = SpeechQueue(espeak, sink)
    queue.feed(REPLY)
    spoken = await queue.interrupt()
    await sink.aclose()
    assert spoken.heard == "" and spoken.interrupted
