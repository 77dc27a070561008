"""The listening loop with the real `Agent` against the scripted vLLM server on loopback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from agent import Agent
from agent.audio import ArraySource, Endpointer
from agent.audio.convert import PCM16
from agent.errors import RequestRejectedError
from agent.events import (
    AgentEvent,
    ReplyText,
    ToolCallFinished,
    ToolCallStarted,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    UtteranceEnded,
)
from agent.testing import ScriptedServer, silence, tone
from tests.audio.corpus import Corpus
from tests.detectors import LoudIsSpeech

notes: list[str] = []


def add_note(text: str) -> str:
    """Add a note.

    Args:
        text: what to write down.
    """
    notes.append(text)
    return "saved"


def three_utterances() -> PCM16:
    parts = [silence(0.5)]
    for _ in range(3):
        parts += [tone(0.9), silence(1.0)]
    return np.concatenate(parts)


async def test_listen_drives_real_turns_with_tools_and_survives_a_failure() -> None:
    notes.clear()
    with ScriptedServer() as server:
        server.reply_tool_call("add_note", {"text": "milk"}).reply("Noted: milk.")
        server.fail(400, "this request is refused")
        server.reply("Third answer.")
        agent = Agent([add_note], base_url=server.base_url, transcribe_turns=False)
        events: list[AgentEvent] = []
        async with agent:
            source = ArraySource(three_utterances(), 16000)
            async for event in agent.listen(source, endpointer=Endpointer(detector=LoudIsSpeech())):
                events.append(event)
        server.verify()
    assert notes == ["milk"]
    assert any(isinstance(e, ToolCallStarted) and e.name == "add_note" for e in events)
    assert any(isinstance(e, ToolCallFinished) for e in events)
    replies = [e.delta for e in events if isinstance(e, ReplyText)]
    assert replies == ["Noted: milk.", "Third answer."]
    ended = [e.utterance for e in events if isinstance(e, UtteranceEnded)]
    failed = [e for e in events if isinstance(e, TurnFailed)]
    assert len(failed) == 1
    assert isinstance(failed[0].error, RequestRejectedError)
    assert failed[0].utterance is ended[1]
    finished = [e.turn for e in events if isinstance(e, TurnFinished)]
    assert [t.text for t in finished] == ["Noted: milk.", "Third answer."]
    # indices follow the conversation: the failed turn left no trace in it
    assert [e.index for e in events if isinstance(e, TurnStarted)] == [0, 1, 1]
    assert [t.index for t in finished] == [0, 1]


def test_agent_replay_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "session.wav"
    sf.write(path, three_utterances(), 16000)
    with ScriptedServer() as server:
        server.reply("one").reply("two").reply("three")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        turns = agent.replay(path, endpointer=Endpointer(detector=LoudIsSpeech()))
        server.verify()
        assert [r.audio_count for r in server.requests] == [1, 2, 3]  # history keeps audio
    assert [t.text for t in turns] == ["one", "two", "three"]


def test_agent_replay_of_the_corpus_with_default_settings(corpus: Corpus) -> None:
    truth = corpus.utterances("clean")
    with ScriptedServer() as server:
        for number in range(len(truth)):
            server.reply(f"answer {number}")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        turns = agent.replay(corpus.path("clean"))
        server.verify()
        # older turns lose their audio: never more than 5 items in one request
        assert max(r.audio_count for r in server.requests) == 5
    assert [t.text for t in turns] == [f"answer {n}" for n in range(len(truth))]
