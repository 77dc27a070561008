"""`--turn-detector` and `--speculate` on `voxagent replay` (issue 11, 2-4): each turn record
carries its stream-timeline timings."""

from __future__ import annotations

import json
from pathlib import Path

from agent.testing import RecordedRequest, ScriptedServer, Step
from tests.cli.conftest import run_voxagent


def test_replay_with_smart_turn_and_speculation_records_stream_timings(
    speech: dict[str, Path], env: dict[str, str]
) -> None:
    def answer(request: RecordedRequest) -> Step:  # a request dropped at a pause may come too
        return Step(content="Okay.")

    with ScriptedServer(responder=answer) as server:
        done = run_voxagent(
            "replay", str(speech["two"]), "--json", "--turn-detector", "smart-turn",
            "--speculate", "--base-url", server.base_url, env=env,
        )  # fmt: skip
    assert done.code == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    # (Smart Turn may judge espeak's pause at the colon of "Take a note: buy milk." an end)
    assert len(records) >= 2 and all(record["text"] == "Okay." for record in records)
    for record in records:
        timings = record["timings"]
        assert record["utterance"]["end"] == timings["speech_end"]
        assert timings["speech_end"] < timings["committed_at"] < timings["speech_end"] + 2.1
        assert timings["tool_dispatched_at"] == {}
    # read faster than real time, the later turns end while the first one runs: only the first
    # is speculated on (never while a turn is in the way)
    assert records[0]["timings"]["from_speculation"] is True


def test_turn_detector_choices_are_checked(env: dict[str, str]) -> None:
    done = run_voxagent("replay", "x.wav", "--turn-detector", "pipecat", env=env)
    assert done.code == 2
    assert "--turn-detector: invalid choice: 'pipecat'" in done.stderr
