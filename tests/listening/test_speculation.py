"""Speculative requests (issue 11, 3) through the real listening loop and `Agent`, against the
scripted vLLM on loopback; the recordings are read at a microphone's pace, so the request
started at the pause really is ahead of the commit."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent import Agent
from agent.audio import ArraySource, Endpointer
from agent.audio.convert import PCM16
from agent.events import (
    AgentEvent,
    ReplyText,
    SpeculationDropped,
    SpeculationStarted,
    ToolCallStarted,
    TurnFailed,
    TurnFinished,
    UtteranceEnded,
)
from agent.testing import ScriptedServer, silence, tone
from agent.testing._steps import RecordedRequest, Step
from agent.turn import Turn
from tests.detectors import LoudIsSpeech

timers: list[int] = []


def set_timer(minutes: int) -> str:
    """Set a timer.

    Args:
        minutes: how long it runs.
    """
    timers.append(minutes)
    return "timer set"


def audio_seconds(request: RecordedRequest) -> float:
    """The length of the (one) audio item the request carries, from its base64 WAV size."""
    for message in request.messages:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if part.get("type") == "input_audio":
                    return (len(part["input_audio"]["data"]) * 3 / 4 - 44) / 32000
    return 0.0


def paced(*parts: PCM16) -> ArraySource:
    return ArraySource(np.concatenate(parts), 16000, realtime=True)


async def listened(agent: Agent, source: ArraySource) -> list[AgentEvent]:
    events: list[AgentEvent] = []
    endpointer = Endpointer(detector=LoudIsSpeech())  # silence rule: 0.2 s pause, 0.78 s end
    async with agent:
        async for event in agent.listen(source, endpointer=endpointer, speculate=True):
            events.append(event)
    return events


def only(events: list[AgentEvent], kind: type[Any]) -> list[Any]:
    return [event for event in events if isinstance(event, kind)]


def position(events: list[AgentEvent], kind: type[Any]) -> int:
    return next(index for index, event in enumerate(events) if isinstance(event, kind))


async def test_a_turn_committed_with_no_new_speech_adopts_the_speculative_reply() -> None:
    timers.clear()
    with ScriptedServer() as server:
        server.reply_tool_call("set_timer", {"minutes": 5}).reply("Timer set for five minutes.")
        agent = Agent([set_timer], base_url=server.base_url, transcribe_turns=False)
        events = await listened(agent, paced(silence(0.3), tone(0.9), silence(1.4)))
        server.verify()  # one request for the turn's first call: the speculative one
    (started,) = only(events, SpeculationStarted)
    (ended,) = only(events, UtteranceEnded)
    (turn,) = [event.turn for event in only(events, TurnFinished)]
    assert not only(events, SpeculationDropped)
    assert turn.timings.from_speculation
    assert timers == [5]
    # started at the pause, 0.6 s before the commit; its tools and text only after it
    assert started.at < ended.utterance.emitted_at - 0.4
    assert position(events, SpeculationStarted) < position(events, UtteranceEnded)
    assert position(events, UtteranceEnded) < position(events, ToolCallStarted)
    assert position(events, UtteranceEnded) < position(events, ReplyText)
    assert turn.text == "Timer set for five minutes."
    # the turn holds the audio the model heard: the utterance up to the pause
    assert abs(turn.audio_seconds - started.utterance.pcm.size / 16000) < 1e-6
    assert turn.audio_seconds < ended.utterance.pcm.size / 16000


async def test_speech_that_resumes_cancels_the_speculative_request() -> None:
    timers.clear()
    answered: list[float] = []

    def respond(request: RecordedRequest) -> Step:
        seconds = audio_seconds(request)
        if seconds < 1.5:  # the half-heard turn: "set a timer for ..."
            return Step(content="", delay=30.0)  # held until the client closes it
        answered.append(seconds)
        return Step(content="Done.", tool_calls=())

    with ScriptedServer(responder=respond) as server:
        agent = Agent([set_timer], base_url=server.base_url, transcribe_turns=False)
        source = paced(silence(0.3), tone(0.6), silence(0.6), tone(0.6), silence(1.4))
        events = await listened(agent, source)
        chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
    (dropped,) = only(events, SpeculationDropped)
    assert "went on speaking" in dropped.reason
    assert 1.4 < dropped.at < 1.6  # where the second tone starts
    assert len(only(events, SpeculationStarted)) == 2
    (turn,) = [event.turn for event in only(events, TurnFinished)]
    assert turn.timings.from_speculation and turn.text == "Done."
    assert timers == []  # nothing of the half-heard turn ran
    # the whole turn (both tones) was answered; the half-heard request, if it got there, was
    # closed (the turn did not wait out its 30 s)
    assert len(answered) == 1 and answered[0] > 1.7
    assert len(chats) in (1, 2)


async def test_a_failed_speculative_request_never_fails_the_turn() -> None:
    with ScriptedServer() as server:
        server.fail(400, "refused once").reply("Second try.")
        agent = Agent([set_timer], base_url=server.base_url, transcribe_turns=False)
        events = await listened(agent, paced(silence(0.3), tone(0.9), silence(1.4)))
        server.verify()
    assert not only(events, TurnFailed)
    (turn,) = [event.turn for event in only(events, TurnFinished)]
    assert turn.text == "Second try." and not turn.timings.from_speculation


async def test_turn_timings_are_on_the_stream_timeline() -> None:
    timers.clear()
    with ScriptedServer() as server:
        server.reply_tool_call("set_timer", {"minutes": 2}).reply("Two minutes.")
        agent = Agent([set_timer], base_url=server.base_url, transcribe_turns=False)
        events = await listened(agent, paced(silence(0.5), tone(1.0), silence(1.4)))
    (turn,) = [event.turn for event in only(events, TurnFinished)]
    timings = turn.timings
    assert timings.speech_end is not None and abs(timings.speech_end - 1.5) < 0.05
    assert timings.committed_at is not None
    assert 0.7 < timings.committed_at - timings.speech_end < 0.85  # the silence rule's wait
    (call_id,) = timings.tool_dispatched_at
    dispatched = timings.first_tool_dispatched_at
    assert dispatched is not None and timings.committed_at <= dispatched < timings.committed_at + 5
    recorded = json.loads(json.dumps(turn.to_dict()))["timings"]
    assert recorded["speech_end"] == round(timings.speech_end, 3)
    assert recorded["committed_at"] == round(timings.committed_at, 3)
    assert recorded["tool_dispatched_at"] == {call_id: round(dispatched, 3)}
    assert recorded["from_speculation"] is True


def test_outside_listen_a_turn_has_no_stream_timings() -> None:
    with ScriptedServer() as server:
        server.reply("Hi.")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        turn: Turn = agent.run_sync(text="hello")
    assert turn.timings.speech_end is None and turn.timings.committed_at is None
    assert turn.timings.tool_dispatched_at == {} and not turn.timings.from_speculation


async def test_listen_takes_the_turn_detector_by_name(tmp_path: Path) -> None:
    path = tmp_path / "question.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "What time is it?"], check=True, timeout=30)
    with ScriptedServer() as server:
        server.reply("Noon.")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        async with agent:
            turns = await agent.replay_async(path, turn_detector="smart-turn")
            mismatched = agent.listen(
                ArraySource(silence(1.0), 16000),
                endpointer=Endpointer(),
                turn_detector="smart-turn",
            )
            with pytest.raises(ValueError, match="pass one of them"):
                await anext(mismatched)
        server.verify()
    assert [turn.text for turn in turns] == ["Noon."]
    # committed by Smart Turn at the 0.2 s pause, not after the 0.8 s of silence
    timings = turns[0].timings
    assert timings.committed_at is not None and timings.speech_end is not None
    assert timings.committed_at - timings.speech_end < 0.5
