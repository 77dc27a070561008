"""Speaking in the conversation, through the real loop: `Agent` + `ScriptedServer` + espeak-ng
+ a `WavSink` on the input's timeline (a replay in stream time: deterministic)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from agent import Agent
from agent.audio import Endpointer, segment
from agent.audio.convert import PCM16
from agent.events import (
    AgentEvent,
    SpeakingFinished,
    SpeakingInterrupted,
    SpeakingStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
    UtteranceEnded,
)
from agent.speech import SPOKEN_STYLE, EspeakVoice, NoVoice, WavSink
from agent.testing import ScriptedServer, silence, tone
from tests.detectors import LoudIsSpeech

LONG_REPLY = (
    "The weather tomorrow looks mostly sunny in the morning. Clouds will gather in the "
    "afternoon, with a chance of light rain after four. Temperatures will reach about "
    "eighteen degrees, and the wind stays calm all day. In the evening it gets cooler again."
)


def recording(*parts: tuple[str, float]) -> PCM16:
    """("s", seconds) of silence and ("t", seconds) of tone (speech to `LoudIsSpeech`)."""
    return np.concatenate(
        [tone(seconds) if kind == "t" else silence(seconds) for kind, seconds in parts]
    )


def endpointer() -> Endpointer:
    return Endpointer(detector=LoudIsSpeech())


def speech_spans(path: Path) -> list[tuple[float, float]]:
    """Where the file is not silent: (start, end) seconds, with gaps under 0.3 s bridged."""
    pcm, rate = sf.read(path, dtype="int16")
    frame = rate // 100
    starts = range(0, pcm.size, frame)
    loud = [bool(np.abs(pcm[i : i + frame]).max(initial=0) > 300) for i in starts]
    spans: list[list[float]] = []
    for index, is_loud in enumerate(loud):
        at = index / 100
        if is_loud and spans and at - spans[-1][1] < 0.3:
            spans[-1][1] = at + 0.01
        elif is_loud:
            spans.append([at, at + 0.01])
    return [(start, end) for start, end in spans]


@pytest.fixture
def espeak() -> EspeakVoice:
    from agent.speech import espeak_program

    if espeak_program() is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return EspeakVoice()


async def test_a_barge_in_stops_the_reply_and_the_history_keeps_what_was_heard(
    tmp_path: Path, espeak: EspeakVoice
) -> None:
    # the user asks; the long reply starts at about 2.2 s; the user speaks again at 4.5 s
    audio = recording(("s", 0.5), ("t", 0.9), ("s", 3.1), ("t", 0.9), ("s", 1.5))
    out = tmp_path / "said.wav"
    events: list[AgentEvent] = []
    with ScriptedServer() as server:
        server.reply(LONG_REPLY).reply("Sorry, go on.")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        async with agent, WavSink(out) as sink:
            turns = await agent.replay_async(
                audio, sample_rate=16000, endpointer=endpointer(), voice=espeak,
                speaker=sink, on_event=events.append,
            )  # fmt: skip
        server.verify()
        second = server.requests[1]
    assert len(turns) == 2
    interrupted = [e for e in events if isinstance(e, SpeakingInterrupted)]
    assert len(interrupted) == 1
    heard = interrupted[0].heard
    assert heard and LONG_REPLY.startswith(heard) and len(heard) < len(LONG_REPLY) / 2
    # the history: the heard words only, the turn marked interrupted; the next turn is its own
    records = agent._history.records
    assert records[0].interrupted and not records[1].interrupted
    assert records[0].replies == [{"role": "assistant", "content": heard}]
    assert second.roles == ["user", "user", "assistant", "user"]
    assert second.messages[0]["content"] == SPOKEN_STYLE
    assert second.messages[2]["content"] == heard
    assert agent.instructions is None  # the spoken style was added per request only
    assert [type(e) for e in events if isinstance(e, SpeakingFinished)] == [SpeakingFinished]
    # on the input's timeline: the reply after the first utterance, cut soon after the second
    ended = [e.utterance for e in events if isinstance(e, UtteranceEnded)]
    spans = speech_spans(out)
    assert spans[0][0] >= ended[0].end
    assert 4.5 < spans[0][1] < 4.5 + 0.4
    assert spans[-1][0] >= ended[1].end  # "Sorry, go on." after the second utterance


async def test_without_barge_in_the_whole_reply_is_spoken_and_recorded(
    tmp_path: Path, espeak: EspeakVoice
) -> None:
    audio = recording(("s", 0.5), ("t", 0.9), ("s", 3.1), ("t", 0.9), ("s", 1.5))
    with ScriptedServer() as server:
        server.reply(LONG_REPLY).reply("Yes?")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        async with agent, WavSink(tmp_path / "said.wav") as sink:
            await agent.replay_async(
                audio, sample_rate=16000, endpointer=endpointer(), voice=espeak,
                speaker=sink, barge_in=False,
            )  # fmt: skip
        server.verify()
    records = agent._history.records
    assert not records[0].interrupted
    assert records[0].replies == [{"role": "assistant", "content": LONG_REPLY}]


async def test_a_short_sound_does_not_interrupt(tmp_path: Path, espeak: EspeakVoice) -> None:
    audio = recording(("s", 0.5), ("t", 0.9), ("s", 3.1), ("t", 0.12), ("s", 9.0))
    with ScriptedServer() as server:
        server.reply(LONG_REPLY)
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        async with agent, WavSink(tmp_path / "said.wav") as sink:
            await agent.replay_async(
                audio, sample_rate=16000, endpointer=endpointer(), voice=espeak, speaker=sink
            )
        server.verify()
    assert not agent._history.records[0].interrupted


class Gate:
    """A tool that runs until the test lets it finish (set on the user's barge-in)."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def tools(self, released: asyncio.Event) -> list[Any]:
        async def look_up(city: str) -> str:
            """Look up the weather.

            Args:
                city: the city.
            """
            self.ran.append(city)
            await released.wait()
            return f"sunny in {city}"

        return [look_up]


async def test_a_barge_in_during_tools_lets_dispatched_calls_finish_and_starts_no_more(
    tmp_path: Path, espeak: EspeakVoice
) -> None:
    audio = recording(("s", 0.5), ("t", 0.9), ("s", 1.5), ("t", 0.9), ("s", 1.5))
    released = asyncio.Event()
    gate = Gate()
    events: list[AgentEvent] = []

    def on_event(event: AgentEvent) -> None:
        events.append(event)
        if isinstance(event, SpeakingInterrupted):
            released.set()  # the tool finishes after the barge-in

    with ScriptedServer() as server:
        server.reply_tool_call(
            "look_up",
            {"city": "Paris"},
            text="Let me look that up for you, it takes a moment to find out.",
        )
        server.reply("Okay.")
        agent = Agent(gate.tools(released), base_url=server.base_url, transcribe_turns=False)
        async with agent, WavSink(tmp_path / "said.wav") as sink:
            turns = await agent.replay_async(
                audio, sample_rate=16000, endpointer=endpointer(), voice=espeak,
                speaker=sink, on_event=on_event,
            )  # fmt: skip
        server.verify()
        second = server.requests[1]
    assert gate.ran == ["Paris"]
    assert len(turns) == 2 and len(server.requests) == 2  # no model call after the tools
    finished = [e.result for e in events if isinstance(e, ToolCallFinished)]
    assert [r.content for r in finished] == ["sunny in Paris"]
    assert sum(isinstance(e, ToolCallStarted) for e in events) == 1
    record = agent._history.records[0]
    assert record.interrupted
    assert [m["role"] for m in record.replies] == ["assistant", "tool"]
    assert record.replies[1]["content"] == "sunny in Paris"
    assert second.roles[-1] == "user"
    assert any(isinstance(e, TurnFinished) for e in events)


async def test_no_voice_is_text_only(tmp_path: Path) -> None:
    audio = recording(("s", 0.5), ("t", 0.9), ("s", 1.5))
    with ScriptedServer() as server:
        server.reply("Hello.")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        events: list[AgentEvent] = []
        await agent.replay_async(
            audio, sample_rate=16000, endpointer=endpointer(), voice=NoVoice(),
            on_event=events.append,
        )  # fmt: skip
        server.verify()
        assert server.requests[0].messages[0]["content"] != SPOKEN_STYLE
    assert not any(isinstance(e, SpeakingStarted) for e in events)


async def test_a_voice_needs_a_speaker(espeak: EspeakVoice) -> None:
    agent = Agent(base_url="http://127.0.0.1:9/v1", transcribe_turns=False)
    with pytest.raises(ValueError, match="speaker="):
        await agent.replay_async(recording(("s", 0.5)), sample_rate=16000, voice=espeak)


def test_the_wav_on_the_input_timeline_starts_after_the_utterance(
    tmp_path: Path, espeak: EspeakVoice
) -> None:
    audio = recording(("s", 0.5), ("t", 0.9), ("s", 2.0))
    out = tmp_path / "said.wav"
    with ScriptedServer() as server:
        server.reply("Hello there.")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        sink_holder: list[WavSink] = []

        async def run() -> None:
            async with WavSink(out) as sink:
                sink_holder.append(sink)
                await agent.replay_async(
                    audio, sample_rate=16000, endpointer=endpointer(), voice=espeak, speaker=sink
                )

        asyncio.run(run())
        server.verify()
    said = segment(out)
    heard = segment(audio, 16000, endpointer=endpointer())
    assert said and said[0].start >= heard[0].end - 0.35  # segment's pre-roll


async def test_a_reply_cut_before_its_first_word_leaves_the_user_turn_alone(
    tmp_path: Path, espeak: EspeakVoice
) -> None:
    # the user speaks again just as the reply starts (at about 2.2 s)
    audio = recording(("s", 0.5), ("t", 0.9), ("s", 0.85), ("t", 0.9), ("s", 1.5))
    with ScriptedServer() as server:
        server.reply("Unfortunately, nobody knows that yet.").reply("Yes?")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        async with agent, WavSink(tmp_path / "said.wav") as sink:
            await agent.replay_async(
                audio, sample_rate=16000, endpointer=endpointer(), voice=espeak, speaker=sink
            )
        server.verify()
        second = server.requests[1]
    first = agent._history.records[0]
    assert first.interrupted and first.replies == []  # no empty assistant message
    assert second.roles == ["user", "user", "user"]  # accepted by Voxtral's rules


async def test_a_streamed_reply_is_spoken_from_its_first_sentence(
    tmp_path: Path, espeak: EspeakVoice
) -> None:
    # The stream breaks after its first sentence: speaking it proves it was not waited for.
    audio = recording(("s", 0.5), ("t", 0.9), ("s", 1.5))
    events: list[AgentEvent] = []
    with ScriptedServer() as server:
        server.fail_mid_stream(partial="Here is the first sentence. And then")
        agent = Agent(base_url=server.base_url, transcribe_turns=False, stream=True)
        async with agent, WavSink(tmp_path / "said.wav") as sink:
            await agent.replay_async(
                audio, sample_rate=16000, endpointer=endpointer(), voice=espeak,
                speaker=sink, on_event=events.append, raise_on_error=False,
            )  # fmt: skip
        server.verify()
    started = [e for e in events if isinstance(e, SpeakingStarted)]
    assert [e.text for e in started] == ["Here is the first sentence."]
    finished = [e for e in events if isinstance(e, SpeakingFinished)]
    assert [e.text for e in finished] == ["Here is the first sentence."]  # not "And then"
