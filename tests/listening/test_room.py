"""The simulated room through the real loop: the microphone hears the user plus the delayed,
attenuated, reverberant echo of what the assistant's speaker plays (a `WavSink` on the
stream's clock, read in stream time: deterministic). The assistant must never interrupt
itself; a real user interruption is still heard."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from agent import Agent
from agent.audio import Endpointer
from agent.audio.convert import PCM16, SAMPLE_RATE
from agent.audio.echo import EchoFilter, EchoGate
from agent.events import AgentEvent, SpeakingFinished, SpeakingInterrupted, SpeakingStarted
from agent.listening import listen
from agent.speech import EspeakVoice, WavSink, espeak_program
from agent.testing import ScriptedServer
from tests.speech.conftest import synthesize_16k
from tests.speech.room import Room, RoomMicrophone, room_impulse_response

pytestmark = pytest.mark.skipif(espeak_program() is None, reason="needs espeak-ng")

REPLY = " ".join(
    [
        "The weather in Paris will be sunny with a light breeze from the west, and "
        "temperatures around twenty degrees in the afternoon."
    ]
    * 3
)
QUESTION = "What will the weather be like in Paris tomorrow?"
STOP = "Stop, stop, that is enough, thank you."


def voices() -> tuple[PCM16, PCM16]:
    async def both() -> tuple[PCM16, PCM16]:
        user = EspeakVoice("en+f3")
        return await synthesize_16k(user, QUESTION), await synthesize_16k(user, STOP)

    return asyncio.run(both())


QUESTION_PCM, STOP_PCM = voices() if espeak_program() is not None else (None, None)


def user_track(interrupt_at: float | None, seconds: float = 30.0) -> PCM16:
    """The question at 0.5 s, then (maybe) the interruption at `interrupt_at` s."""
    assert QUESTION_PCM is not None and STOP_PCM is not None
    track = np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)
    start = SAMPLE_RATE // 2
    track[start : start + QUESTION_PCM.size] = QUESTION_PCM
    if interrupt_at is not None:
        at = round(interrupt_at * SAMPLE_RATE)
        track[at : at + STOP_PCM.size] = STOP_PCM
    return track


async def converse(
    tmp_path: Path, echo: EchoFilter | None, interrupt_at: float | None, *, answers: int = 0
) -> list[AgentEvent]:
    """One conversation in the room: the question, the long reply, `answers` short replies
    for what the agent hears next (the interruption, or its own echo)."""
    events: list[AgentEvent] = []
    server = ScriptedServer().start()
    try:
        server.reply(REPLY)
        for _ in range(answers):
            server.reply("Okay.")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        room = Room(room_impulse_response(delay_s=0.05, gain_db=-6.0))
        async with agent, WavSink(tmp_path / "said.wav") as sink:
            mic = RoomMicrophone(user_track(interrupt_at), room, sink)
            sink.add_output_tap(mic.tap)
            heard = listen(
                agent, mic, endpointer=Endpointer(), voice=EspeakVoice(), speaker=sink,
                echo=echo, stream_time=True,
            )  # fmt: skip
            async for event in heard:
                events.append(event)
    finally:
        server.stop()
    if answers == 0:
        server.verify()
    return events


def aec() -> EchoFilter:
    pytest.importorskip("livekit.rtc", reason="echo cancellation needs livekit (extra [aec])")
    from agent.audio.echo import EchoCanceller

    return EchoCanceller(delay_ms=50)


async def test_without_echo_handling_the_assistant_interrupts_itself(tmp_path: Path) -> None:
    events = await converse(tmp_path, None, None, answers=3)
    assert any(isinstance(e, SpeakingInterrupted) for e in events)  # the room is a real test


async def test_with_echo_cancellation_a_long_reply_never_interrupts_itself(
    tmp_path: Path,
) -> None:
    events = await converse(tmp_path, aec(), None)
    assert not any(isinstance(e, SpeakingInterrupted) for e in events)
    finished = [e for e in events if isinstance(e, SpeakingFinished)]
    assert len(finished) == 1 and len(finished[0].text) > 300


async def test_with_echo_cancellation_the_user_still_interrupts(tmp_path: Path) -> None:
    events = await converse(tmp_path, aec(), 8.0, answers=1)
    interrupted = [e for e in events if isinstance(e, SpeakingInterrupted)]
    assert len(interrupted) == 1
    assert 0 < len(interrupted[0].heard) < len(REPLY) / 2
    assert sum(isinstance(e, SpeakingStarted) for e in events) == 2  # "Okay." is its own turn


async def test_without_cancellation_the_gate_never_interrupts_itself(tmp_path: Path) -> None:
    events = await converse(tmp_path, EchoGate(), None)
    assert not any(isinstance(e, SpeakingInterrupted) for e in events)
    assert sum(isinstance(e, SpeakingFinished) for e in events) == 1
