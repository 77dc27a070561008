"""The hearing events of `agent.audio.events`: their types resolve, their JSON form is plain."""

from __future__ import annotations

import json
import typing

import numpy as np

import agent.events
from agent.audio import Utterance
from agent.audio.events import SpeechStarted, UtteranceDropped, UtteranceEnded


def utterance() -> Utterance:
    pcm = np.zeros(16000, dtype=np.int16)
    return Utterance(pcm=pcm, start=1.25, end=2.0, emitted_at=2.8, truncated=False)


def test_type_hints_resolve_without_a_cycle() -> None:
    assert typing.get_type_hints(UtteranceEnded) == {"utterance": Utterance}
    assert typing.get_type_hints(UtteranceDropped) == {"utterance": Utterance, "reason": str}
    assert typing.get_type_hints(SpeechStarted) == {"at": float}


def test_agent_events_re_exports_the_same_classes() -> None:
    assert agent.events.SpeechStarted is SpeechStarted
    assert agent.events.UtteranceEnded is UtteranceEnded
    assert agent.events.UtteranceDropped is UtteranceDropped
    members = typing.get_args(agent.events.AgentEvent)
    assert {SpeechStarted, UtteranceEnded, UtteranceDropped} <= set(members)


def test_json_forms_carry_a_type_and_seconds_not_samples() -> None:
    spoken = utterance()
    assert SpeechStarted(at=1.25).to_dict() == {"type": "speech_started", "at": 1.25}
    where = {"start": 1.25, "end": 2.0, "duration": 1.0, "emitted_at": 2.8, "truncated": False}
    assert UtteranceEnded(utterance=spoken).to_dict() == {
        "type": "utterance_ended",
        "utterance": where,
    }
    dropped = UtteranceDropped(utterance=spoken, reason="too short").to_dict()
    assert dropped == {"type": "utterance_dropped", "utterance": where, "reason": "too short"}
    for event in (SpeechStarted(at=0.5), UtteranceEnded(utterance=spoken)):
        assert json.loads(json.dumps(event.to_dict())) == event.to_dict()
