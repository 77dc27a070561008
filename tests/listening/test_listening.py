"""The listening loop against a stand-in agent with `Agent.run`'s signature."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any

import numpy as np
import pytest

from agent.audio import ArraySource, AudioSource, Endpointer
from agent.audio.convert import PCM16
from agent.errors import BadAudioError, ServerError
from agent.events import (
    AgentEvent,
    EventHandler,
    ReplyText,
    SpeechStarted,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    UtteranceDropped,
    UtteranceEnded,
)
from agent.listening import listen, replay, replay_async
from agent.turn import Turn
from tests.detectors import LoudIsSpeech

RATE = 16_000


def endpointer() -> Endpointer:
    return Endpointer(detector=LoudIsSpeech())


def tone(seconds: float) -> PCM16:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.round(3000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)


def silence(seconds: float) -> PCM16:
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def session(*speech_seconds: float, gap: float = 1.0) -> PCM16:
    """Utterances of the given lengths separated by `gap` of silence."""
    parts = [silence(0.5)]
    for seconds in speech_seconds:
        parts += [tone(seconds), silence(gap)]
    return np.concatenate(parts)


class FakeAgent:
    """Stands in for `Agent`: same `run` signature, scripted outcomes, records every call."""

    def __init__(self, *, delay: float = 0.0, fail_on: set[int] | None = None) -> None:
        self.delay = delay
        self.fail_on = fail_on or set()
        self.calls: list[dict[str, Any]] = []
        self.cancelled = 0
        self.gate: asyncio.Event | None = None

    async def run(
        self,
        audio: Any = None,
        *,
        text: str | None = None,
        sample_rate: int | None = None,
        tool_choice: Any = "auto",
        on_event: EventHandler | None = None,
    ) -> Turn:
        number = len(self.calls)
        self.calls.append({"audio": audio, "sample_rate": sample_rate})
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if number in self.fail_on:
            raise ServerError(f"turn {number} failed", status_code=500)
        assert on_event is not None
        # what a real run might emit besides tool and reply events: the loop must not repeat it
        on_event(TurnStarted(index=99))
        on_event(ReplyText(f"reply {number}"))
        return Turn(text=f"reply {number}", index=number)


async def events_of(agent: FakeAgent, source: AudioSource, **options: Any) -> list[AgentEvent]:
    options.setdefault("endpointer", endpointer())
    return [event async for event in listen(agent, source, **options)]


def kinds(events: list[AgentEvent]) -> list[str]:
    return [type(event).__name__ for event in events]


async def test_each_utterance_becomes_a_turn_in_order() -> None:
    agent = FakeAgent()
    events = await events_of(agent, ArraySource(session(0.6, 0.9), 16000))
    # hearing runs ahead of the turns, so only the order within each side is fixed
    hearing = (SpeechStarted, UtteranceEnded)
    assert kinds([e for e in events if isinstance(e, hearing)]) == [
        "SpeechStarted", "UtteranceEnded", "SpeechStarted", "UtteranceEnded",
    ]  # fmt: skip
    assert kinds([e for e in events if not isinstance(e, hearing)]) == [
        "TurnStarted", "ReplyText", "TurnFinished", "TurnStarted", "ReplyText", "TurnFinished",
    ]  # fmt: skip
    for turn_started in (e for e in events if isinstance(e, TurnStarted)):
        ended = next(
            e
            for e in events
            if isinstance(e, UtteranceEnded) and e.utterance is turn_started.utterance
        )
        assert events.index(ended) < events.index(turn_started)
    ended = [e.utterance for e in events if isinstance(e, UtteranceEnded)]
    started = [e for e in events if isinstance(e, TurnStarted)]
    assert [s.utterance for s in started] == ended
    assert [s.index for s in started] == [0, 1]
    assert [call["audio"] is u.pcm for call, u in zip(agent.calls, ended, strict=True)] == [
        True,
        True,
    ]
    assert {call["sample_rate"] for call in agent.calls} == {16000}
    finished = [e.turn.text for e in events if isinstance(e, TurnFinished)]
    assert finished == ["reply 0", "reply 1"]


async def test_turn_index_follows_the_agents_turn_count() -> None:
    class Counting(FakeAgent):
        turns = 5

    events = await events_of(Counting(), ArraySource(session(0.6), 16000))
    assert [e.index for e in events if isinstance(e, TurnStarted)] == [5]


async def test_a_failed_turn_carries_its_utterance_and_listening_goes_on() -> None:
    agent = FakeAgent(fail_on={0})
    events = await events_of(agent, ArraySource(session(0.6, 0.9), 16000))
    failed = [e for e in events if isinstance(e, TurnFailed)]
    assert len(failed) == 1
    assert isinstance(failed[0].error, ServerError)
    first = next(e.utterance for e in events if isinstance(e, UtteranceEnded))
    assert failed[0].utterance is first
    assert [e.turn.text for e in events if isinstance(e, TurnFinished)] == ["reply 1"]


async def test_source_is_read_while_a_turn_runs() -> None:
    agent = FakeAgent()
    agent.gate = asyncio.Event()
    seen: list[AgentEvent] = []
    async for event in listen(
        agent, ArraySource(session(0.6, 0.6, 0.6), 16000), endpointer=endpointer()
    ):
        seen.append(event)
        if sum(isinstance(e, UtteranceEnded) for e in seen) == 3:
            agent.gate.set()  # all three heard while the first turn was still waiting
    assert kinds(seen).count("TurnFinished") == 3
    first_finished = kinds(seen).index("TurnFinished")
    assert kinds(seen)[:first_finished].count("UtteranceEnded") == 3


async def test_overflow_drops_utterances_with_an_event_never_silently() -> None:
    agent = FakeAgent()
    agent.gate = asyncio.Event()
    seen: list[AgentEvent] = []
    source = ArraySource(session(0.6, 0.6, 0.6, 0.6, 0.6), 16000)
    async for event in listen(agent, source, endpointer=endpointer(), max_queued=2):
        seen.append(event)
        if sum(isinstance(e, UtteranceEnded) for e in seen) == 5:
            agent.gate.set()
    ended = [e.utterance for e in seen if isinstance(e, UtteranceEnded)]
    dropped = [e for e in seen if isinstance(e, UtteranceDropped)]
    turned = [e.utterance for e in seen if isinstance(e, TurnStarted)]
    # the first went straight to a turn; two waited; the last two found the queue full
    assert turned == ended[:3]
    assert [d.utterance for d in dropped] == ended[3:]
    assert all("queue full" in d.reason and "max_queued=2" in d.reason for d in dropped)


async def test_too_short_utterances_are_reported() -> None:
    agent = FakeAgent()
    audio = np.concatenate([silence(0.48), tone(0.15), silence(1.0), tone(0.6), silence(1.0)])
    events = await events_of(agent, ArraySource(audio, 16000))
    dropped = [e for e in events if isinstance(e, UtteranceDropped)]
    assert len(dropped) == 1 and "too short" in dropped[0].reason
    assert len(agent.calls) == 1


async def test_speech_cut_off_by_the_end_of_the_source_still_gets_a_turn() -> None:
    agent = FakeAgent()
    events = await events_of(agent, ArraySource(np.concatenate([silence(0.3), tone(1.0)]), 16000))
    assert kinds(events)[-3:] == ["TurnStarted", "ReplyText", "TurnFinished"]


class BrokenSource(AudioSource):
    """Delivers some audio, then fails like a device or a corrupt file would."""

    def __init__(self, audio: PCM16) -> None:
        super().__init__()
        self.audio = audio
        self.released = False

    async def _frames(self) -> AsyncGenerator[PCM16, None]:
        for offset in range(0, self.audio.size, 480):
            yield self.audio[offset : offset + 480]
            await asyncio.sleep(0)
        raise BadAudioError("broken.wav: unreadable after 2.0 s")

    async def _release(self) -> None:
        self.released = True


async def test_a_failing_source_ends_listening_with_its_error_after_pending_turns() -> None:
    agent = FakeAgent()
    source = BrokenSource(np.concatenate([silence(0.3), tone(0.6), silence(1.0), tone(0.6)]))
    seen: list[AgentEvent] = []
    with pytest.raises(BadAudioError, match="unreadable"):
        async for event in listen(agent, source, endpointer=endpointer()):
            seen.append(event)
    # the utterance in progress when the source broke was flushed and answered too
    assert kinds(seen).count("TurnFinished") == 2
    assert source.released and source.closed


async def test_closing_the_iteration_cancels_the_turn_and_closes_the_source() -> None:
    agent = FakeAgent()
    agent.gate = asyncio.Event()  # never set: the turn would wait forever
    source = ArraySource(np.concatenate([session(0.6), silence(600.0)]), 16000, realtime=False)
    events = listen(agent, source, endpointer=endpointer())
    async with contextlib.aclosing(events):
        async for event in events:
            if isinstance(event, TurnStarted):
                await asyncio.sleep(0.01)
                break
    assert source.closed
    assert agent.cancelled == 1


async def test_cancelling_the_consumer_task_stops_everything() -> None:
    agent = FakeAgent()
    source = ArraySource(np.concatenate([session(0.6, 0.6), silence(30.0)]), 16000, realtime=True)
    seen: list[AgentEvent] = []

    async def consume() -> None:
        async with contextlib.aclosing(listen(agent, source, endpointer=endpointer())) as events:
            async for event in events:
                seen.append(event)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.9)  # speech starts at 0.5 s and is confirmed 0.15 s later
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert source.closed
    assert kinds(seen) == ["SpeechStarted"]


async def test_on_frame_gets_level_and_decision() -> None:
    frames: list[tuple[float, bool]] = []
    await events_of(
        FakeAgent(), ArraySource(session(0.6), 16000), on_frame=lambda db, s: frames.append((db, s))
    )
    assert len(frames) == round(session(0.6).size / 480)
    assert any(s for _, s in frames) and not all(s for _, s in frames)


async def test_bad_max_queued() -> None:
    with pytest.raises(ValueError, match="max_queued"):
        await events_of(FakeAgent(), ArraySource(silence(0.1), 16000), max_queued=0)


# -- replay ---------------------------------------------------------------------------------


async def test_replay_async_returns_every_turn_and_drops_nothing() -> None:
    agent = FakeAgent(delay=0.01)
    seen: list[AgentEvent] = []
    turns = await replay_async(
        agent, session(*[0.6] * 12), sample_rate=RATE, endpointer=endpointer(),
        on_event=seen.append,
    )  # fmt: skip
    assert [t.text for t in turns] == [f"reply {n}" for n in range(12)]
    assert not any(isinstance(e, UtteranceDropped) for e in seen)


async def test_replay_async_accepts_async_handlers_and_arrays_at_other_rates() -> None:
    agent = FakeAgent()
    audio = np.repeat(session(0.6, 0.6).astype(np.float32)[:, None] / 32768, 2, axis=1)
    seen: list[AgentEvent] = []

    async def handler(event: AgentEvent) -> None:
        seen.append(event)

    turns = await replay_async(
        agent, audio, sample_rate=RATE, endpointer=endpointer(), on_event=handler
    )
    assert len(turns) == 2
    assert kinds(seen).count("TurnFinished") == 2


async def test_replay_async_raises_the_first_failure_with_a_note() -> None:
    with pytest.raises(ServerError, match="turn 1 failed") as caught:
        await replay_async(
            FakeAgent(fail_on={1}), session(0.6, 0.6, 0.6), sample_rate=RATE,
            endpointer=endpointer(),
        )  # fmt: skip
    assert any("while replaying the utterance at" in note for note in caught.value.__notes__)
    audio = session(0.6, 0.6, 0.6)
    agent = FakeAgent(fail_on={1})
    turns = await replay_async(
        agent, audio, sample_rate=RATE, endpointer=endpointer(), raise_on_error=False
    )
    assert [t.text for t in turns] == ["reply 0", "reply 2"]


def test_replay_is_sync_for_scripts(tmp_path: Any) -> None:
    import soundfile as sf

    path = tmp_path / "session.wav"
    sf.write(path, session(0.6, 0.9), RATE)
    turns = replay(FakeAgent(), path, endpointer=endpointer())
    assert len(turns) == 2


async def test_replay_refuses_a_running_loop() -> None:
    with pytest.raises(RuntimeError, match="replay_async"):
        replay(FakeAgent(), session(0.6), sample_rate=RATE)


def test_replay_of_the_corpus_with_default_settings(corpus: Any) -> None:
    turns = replay(FakeAgent(), corpus.path("clean"))
    assert len(turns) == len(corpus.utterances("clean"))


def test_speech_started_is_exported_for_consumers() -> None:
    assert SpeechStarted(at=1.0).at == 1.0
