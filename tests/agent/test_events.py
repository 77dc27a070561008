"""Every event has a JSON form with a `type` (issue 9, 9): what `--log` and a browser carry."""

import json
import typing

import numpy as np

from agent import events
from agent.audio import Utterance
from agent.errors import ServerError
from agent.turn import Turn
from tools import ToolResult


def utterance() -> Utterance:
    pcm = np.zeros(8000, dtype=np.int16)
    return Utterance(pcm=pcm, sample_rate=16000, start=1.0, end=1.5, emitted_at=2.3)


def every_event() -> list[events.AgentEvent]:
    result = ToolResult(ok=True, content="ok", value=object(), name="t", call_id="abcdefghi")
    return [
        events.SpeechStarted(at=0.5),
        events.UtteranceEnded(utterance()),
        events.UtteranceDropped(utterance(), "too short"),
        events.TurnStarted(index=0, utterance=utterance()),
        events.ToolCallStarted("abcdefghi", "t", {"when": object()}),
        events.ToolCallFinished(result),
        events.ReplyText("Hello"),
        events.TurnFinished(Turn(text="Hi", tool_results=[result])),
        events.TurnTranscribed(0, "what time is it"),
        events.TurnFailed(ServerError("boom", status_code=500), utterance=utterance()),
        events.SpeakingStarted("Hello there."),
        events.SpeakingFinished("Hello there."),
        events.SpeakingInterrupted(heard="Hello", text="Hello there."),
        events.SpeculationStarted(at=1.7, utterance=utterance()),
        events.SpeculationDropped(at=1.9, reason="the user went on speaking"),
        events.Awake(at=1.25, wake_word="hey_jarvis"),
        events.Asleep(at=9.5),
    ]


def test_every_kind_of_event_is_covered_here() -> None:
    kinds = set(typing.get_args(events.AgentEvent))
    assert {type(event) for event in every_event()} == kinds


def test_every_event_has_a_json_form_with_a_type_discriminator() -> None:
    types = []
    for event in every_event():
        form = event.to_dict()
        text = json.dumps(form)  # no numpy arrays, no exception objects
        assert json.loads(text) == form
        types.append(form["type"])
    assert len(set(types)) == len(types)
    assert types[0] == "speech_started" and types[-1] == "asleep"


def test_a_failed_turn_carries_the_error_as_text() -> None:
    form = events.TurnFailed(ServerError("engine died", status_code=500)).to_dict()
    assert form["error"] == {"type": "ServerError", "message": "engine died"}
    assert form["utterance"] is None
