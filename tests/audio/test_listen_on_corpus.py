"""`Agent.listen` and `Agent.replay` over real audio sources: the corpus through the real Agent.

The listening loop's own tests live in tests/listening; these drive it with the audio layer's
sources (`WavSource`, files) and a `ScriptedServer`.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from agent import Agent
from agent import events as ev
from agent.audio import WavSource
from agent.errors import RequestRejectedError
from agent.testing import ScriptedServer
from agent.turn import Turn
from tests.audio.conftest import first_utterances
from tests.audio.corpus import Corpus

notes: list[str] = []


def add_note(text: str) -> str:
    """Write a note down.

    Args:
        text: the note.
    """
    notes.append(text)
    return "saved"


def kinds(events: list[ev.AgentEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


async def test_listen_emits_typed_events_in_order(corpus: Corpus, tmp_path: Path) -> None:
    path, truth = first_utterances(corpus, 2, tmp_path)
    notes.clear()
    with ScriptedServer() as server:
        server.reply_tool_call("add_note", {"text": "milk"}).reply("Noted.")
        server.reply("Second.")
        agent = Agent([add_note], base_url=server.base_url, transcribe_turns=False)
        async with agent:
            events = [event async for event in agent.listen(WavSource(path))]
        server.verify()
    assert notes == ["milk"]
    first_turn = kinds(events)[: kinds(events).index("TurnFinished") + 1]
    assert [k for k in first_turn if k not in ("SpeechStarted", "UtteranceEnded")] == [
        "TurnStarted", "ToolCallStarted", "ToolCallFinished", "ReplyText", "TurnFinished",
    ]  # fmt: skip
    assert first_turn[:2] == ["SpeechStarted", "UtteranceEnded"]
    utterances = [e.utterance for e in events if isinstance(e, ev.UtteranceEnded)]
    assert len(utterances) == len(truth)
    started = [e for e in events if isinstance(e, ev.TurnStarted)]
    assert [s.utterance for s in started] == utterances
    assert [e.delta for e in events if isinstance(e, ev.ReplyText)] == ["Noted.", "Second."]
    finished = [e.turn for e in events if isinstance(e, ev.TurnFinished)]
    assert all(isinstance(t, Turn) for t in finished) and [t.text for t in finished] == [
        "Noted.",
        "Second.",
    ]
    call = next(e for e in events if isinstance(e, ev.ToolCallStarted))
    assert call.name == "add_note" and call.arguments == {"text": "milk"}
    assert next(e for e in events if isinstance(e, ev.ToolCallFinished)).result.ok


async def test_utterances_queue_in_order_while_a_turn_runs(corpus: Corpus, tmp_path: Path) -> None:
    path, _ = first_utterances(corpus, 3, tmp_path)
    with ScriptedServer() as server:
        server.reply("one", delay=1.5).reply("two").reply("three")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        async with agent:
            events = [e async for e in agent.listen(WavSource(path, realtime=False))]
        server.verify()
    names = kinds(events)
    # all three were heard while the first turn was still waiting for the model
    assert names[: names.index("TurnFinished")].count("UtteranceEnded") == 3
    assert [e.turn.text for e in events if isinstance(e, ev.TurnFinished)] == [
        "one",
        "two",
        "three",
    ]
    heard_in_order = [e.utterance for e in events if isinstance(e, ev.UtteranceEnded)]
    assert [e.utterance for e in events if isinstance(e, ev.TurnStarted)] == heard_in_order
    assert not any(isinstance(e, ev.UtteranceDropped) for e in events)


async def test_a_failed_turn_emits_turn_failed_with_its_utterance(
    corpus: Corpus, tmp_path: Path
) -> None:
    path, _ = first_utterances(corpus, 2, tmp_path)
    with ScriptedServer() as server:
        server.fail(400, "refused").reply("after the failure")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        async with agent:
            events = [e async for e in agent.listen(WavSource(path))]
    failed = [e for e in events if isinstance(e, ev.TurnFailed)]
    first = next(e.utterance for e in events if isinstance(e, ev.UtteranceEnded))
    assert len(failed) == 1 and failed[0].utterance is first
    assert isinstance(failed[0].error, RequestRejectedError)
    assert [e.turn.text for e in events if isinstance(e, ev.TurnFinished)] == ["after the failure"]


async def test_cancelling_the_iteration_stops_the_source(corpus: Corpus) -> None:
    source = WavSource(corpus.path("clean"), realtime=True)
    with ScriptedServer() as server:
        server.reply("slow", delay=30.0)
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        seen: list[ev.AgentEvent] = []

        async def consume() -> None:
            async for event in agent.listen(source):
                seen.append(event)

        async with agent:
            task = asyncio.create_task(consume())
            # the model request has reached the server (its step is taken), not only begun
            while not any(isinstance(e, ev.TurnStarted) for e in seen) or not server.requests:
                await asyncio.sleep(0.05)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 5.0)
    assert source.closed
    assert not any(isinstance(e, ev.TurnFinished) for e in seen)


def test_agent_replay_of_session_wav_returns_the_turns(session_wav: Path, corpus: Corpus) -> None:
    truth = corpus.utterances("clean")
    with ScriptedServer() as server:
        for number in range(len(truth)):
            server.reply(f"answer {number}")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        turns = agent.replay("session.wav")
        server.verify()
    assert isinstance(turns, list) and all(isinstance(t, Turn) for t in turns)
    assert [t.text for t in turns] == [f"answer {n}" for n in range(len(truth))]
