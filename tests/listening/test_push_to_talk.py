"""Push-to-talk in the real listening loop: `start()`/`end()` from another thread delimit one
turn, whatever the VAD hears; speech outside them starts nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path

import numpy as np
import pytest

from agent import Agent, PushToTalk
from agent.audio import FRAME_SAMPLES, SAMPLE_RATE, AudioSource, Endpointer
from agent.audio.convert import PCM16
from agent.events import (
    AgentEvent,
    SpeakingInterrupted,
    SpeechStarted,
    TurnFinished,
    TurnStarted,
    UtteranceDropped,
    UtteranceEnded,
)
from agent.speech import EspeakVoice, WavSink, espeak_program
from agent.testing import ScriptedServer
from tests.listening.test_speaking import LONG_REPLY, endpointer, recording, speech_spans
from tests.listening.test_wake import FOLLOW_UP, NO_WAKE_WORD, Said, said

__all__ = ["said"]  # the session fixture of Piper's phrases


class PressingSource(AudioSource):
    """Frames of `pcm`; before the frame at each of `presses` (seconds), `action()` of
    `push_to_talk` runs in a thread of its own, as a key handler would call it."""

    def __init__(self, pcm: PCM16, push_to_talk: PushToTalk, presses: dict[float, str]) -> None:
        super().__init__()
        self.pcm = pcm
        self.push_to_talk = push_to_talk
        self.presses = {round(at * SAMPLE_RATE): name for at, name in presses.items()}

    async def _frames(self) -> AsyncGenerator[PCM16, None]:
        for offset in range(0, self.pcm.size, FRAME_SAMPLES):
            if self._closed:
                return
            if (name := self.presses.get(offset)) is not None:
                await asyncio.to_thread(getattr(self.push_to_talk, name))
            yield self.pcm[offset : offset + FRAME_SAMPLES]


def on_a_frame(seconds: float) -> float:
    """The start of the frame `seconds` falls in."""
    return round(seconds * SAMPLE_RATE) // FRAME_SAMPLES * FRAME_SAMPLES / SAMPLE_RATE


async def listened(
    server: ScriptedServer, source: PressingSource, push_to_talk: PushToTalk
) -> list[AgentEvent]:
    async with Agent(base_url=server.base_url, transcribe_turns=False) as agent:
        return [event async for event in agent.listen(source, push_to_talk=push_to_talk)]


async def test_start_and_end_from_another_thread_make_one_turn_of_that_audio(
    said: Said,
) -> None:
    # Speech before the key, then two phrases 1.5 s apart (the VAD would make two turns of
    # them) while the key is held, then speech after it.
    audio, phrases = said(0.6, FOLLOW_UP, 1.2, NO_WAKE_WORD, 1.5, FOLLOW_UP, 1.2, NO_WAKE_WORD, 1)
    start, end = on_a_frame(phrases[1][0] - 0.3), on_a_frame(phrases[2][1] + 0.3)
    push_to_talk = PushToTalk()
    source = PressingSource(audio, push_to_talk, {start: "start", end: "end"})
    with ScriptedServer() as server:
        server.reply("Timer set, and it is noon.")
        events = await listened(server, source, push_to_talk)
        server.verify()  # one request: one turn
    [turn] = [event for event in events if isinstance(event, TurnStarted)]
    heard = turn.utterance
    assert heard is not None
    assert (heard.start, heard.end, heard.emitted_at) == pytest.approx((start, end, end))
    # Its audio is exactly the stream from the pre-roll before the start to the end.
    pre_roll = round(Endpointer().config.pre_roll_s * SAMPLE_RATE)
    first = round(start * SAMPLE_RATE) - pre_roll
    assert np.array_equal(heard.pcm, audio[first : round(end * SAMPLE_RATE)])
    hearing = [e for e in events if isinstance(e, SpeechStarted | UtteranceEnded)]
    assert [type(e).__name__ for e in hearing] == ["SpeechStarted", "UtteranceEnded"]
    assert isinstance(events[-1], TurnFinished)
    assert not any(isinstance(event, UtteranceDropped) for event in events)


async def test_a_slip_of_the_key_is_dropped_with_the_reason(said: Said) -> None:
    audio, _ = said(0.6, FOLLOW_UP, 1.0)
    push_to_talk = PushToTalk()
    source = PressingSource(audio, push_to_talk, {0.6: "start", 0.69: "end", 0.75: "end"})
    with ScriptedServer() as server:
        events = await listened(server, source, push_to_talk)
        assert server.requests == []
    [dropped] = [event for event in events if isinstance(event, UtteranceDropped)]
    assert dropped.reason == (
        "push-to-talk held for 0.09 s, less than min_utterance_s=0.2 s (a slip of the key?)"
    )
    assert not push_to_talk.talking


async def test_with_a_voice_the_key_interrupts_and_the_voice_alone_does_not(
    tmp_path: Path,
) -> None:
    if espeak_program() is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    # A question held 0.5-1.5 s; the long reply starts after it; the user speaks over it at
    # 4.5 s without the key (no barge-in), then presses it at 6 s (the barge-in) and asks.
    audio = recording(("s", 0.5), ("t", 0.9), ("s", 3.1), ("t", 0.9), ("s", 1.5), ("t", 0.9))
    audio = np.concatenate([audio, np.zeros(SAMPLE_RATE, dtype=np.int16)])
    push_to_talk = PushToTalk()
    presses = {0.48: "start", 1.5: "end", 6.0: "start", 7.5: "end"}
    source = PressingSource(audio, push_to_talk, presses)
    out = tmp_path / "said.wav"
    events: list[AgentEvent] = []
    with ScriptedServer() as server:
        server.reply(LONG_REPLY).reply("Sorry, go on.")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        async with agent, WavSink(out) as sink:
            listening = agent.listen(
                source, endpointer=endpointer(), voice=EspeakVoice(), speaker=sink,
                push_to_talk=push_to_talk, stream_time=True,
            )  # fmt: skip
            events = [event async for event in listening]
        server.verify()
    [interrupted] = [event for event in events if isinstance(event, SpeakingInterrupted)]
    assert interrupted.heard and len(interrupted.heard) < len(LONG_REPLY) / 2
    turns = [event.utterance for event in events if isinstance(event, TurnStarted)]
    spans = [(u.start, u.end) for u in turns if u is not None]
    assert np.allclose(spans, [(0.48, 1.5), (6.0, 7.5)])
    said = speech_spans(out)
    reply = [(start, end) for start, end in said if start < 7.5]  # then "Sorry, go on."
    assert reply[0][0] >= 1.5 and 6.0 < reply[-1][1] < 6.0 + 0.2  # cut at the key
    assert any(start < 4.5 and end > 5.4 for start, end in reply)  # the voice alone: no cut
    assert said[-1][0] >= 7.5


def test_toggle_opens_and_closes_and_repeats_are_ignored() -> None:
    push_to_talk = PushToTalk()
    assert push_to_talk.toggle() is True and push_to_talk.talking
    push_to_talk.start()  # already talking: no second start
    assert push_to_talk.toggle() is False
    push_to_talk.end()
    assert push_to_talk._take_requests() == [True, False]
    assert push_to_talk._take_requests() == []
