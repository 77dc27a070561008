"""`voxagent run --replay` as a process against the scripted server; and its failures."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from agent.testing import ScriptedServer
from tests.cli.conftest import run_voxagent


def test_a_spoken_turn_with_a_tool_call(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str], tmp_path: Path
) -> None:
    scripted_server.transcribe_as("What is six times seven?")
    scripted_server.reply_tool_call("calculate", {"expression": "6 * 7"})
    scripted_server.reply("Six times seven is 42.")
    log = tmp_path / "talk.jsonl"
    done = run_voxagent(
        "run", "--base-url", scripted_server.base_url, "--replay", str(speech["one"]),
        "--fast", "--log", str(log),
        env=env,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("voxagent · model voxtral-scripted at " + scripted_server.base_url)
    assert "12 tools" in lines[0]
    expected = [
        "you (turn 1: ",
        "  ⚙ calculate(expression='6 * 7') → 42 ",
        "assistant Six times seven is 42.",
        "end of ",
    ]
    # The transcript is made beside the turn (issue 8, 1.6): its line comes when it comes.
    heard = [line for line in lines if line.startswith("  heard: ")]
    assert heard == ["  heard: What is six times seven?"], lines
    others = [line for line in lines[1:] if not line.startswith("  heard: ")]
    for prefix, line in zip(expected, others, strict=True):
        assert line.startswith(prefix), lines
    record = json.loads(log.read_text())
    assert record["event"] == "turn" and record["source"] == str(speech["one"])
    assert 0.5 < record["utterance"]["start"] < record["utterance"]["end"]  # as replay --json
    assert record["transcript"] == "What is six times seven?"
    assert record["tool_results"][0]["value"] == 42
    assert record["text"] == "Six times seven is 42."


def test_approval_with_yes_and_refusal_without(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str], tmp_path: Path
) -> None:
    notes = tmp_path / "notes.db"
    for _ in range(2):
        scripted_server.reply_tool_call("add_note", {"text": "buy milk"})
        scripted_server.reply("Done.")
    common = ["run", "--base-url", scripted_server.base_url, "--replay", str(speech["one"])]
    common += ["--fast", "--notes-db", str(notes)]
    refused = run_voxagent(*common, env=env)
    assert refused.code == 0, refused.stderr
    assert "refused add_note(text='buy milk'): it needs approval" in refused.stdout
    assert "⚙ add_note(text='buy milk') ✗ " in refused.stdout
    assert "did not approve add_note" in refused.stdout
    approved = run_voxagent(*common, "--yes", env=env)
    assert approved.code == 0, approved.stderr
    assert "approved add_note(text='buy milk') (--yes)" in approved.stdout
    with sqlite3.connect(notes) as db:
        assert db.execute("SELECT text FROM notes").fetchall() == [("buy milk",)]
    tool_message = scripted_server.requests[1].body["messages"][-1]
    assert tool_message["role"] == "tool" and "did not approve" in tool_message["content"]


def test_a_failed_turn_is_shown_logged_and_exits_1(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str], tmp_path: Path
) -> None:
    scripted_server.fail(400, "This model's maximum context length is 32768 tokens.")
    log = tmp_path / "log.jsonl"
    done = run_voxagent(
        "run", "--base-url", scripted_server.base_url, "--replay", str(speech["one"]), "--fast",
        "--log", str(log),
        env=env,
    )  # fmt: skip
    assert done.code == 1
    assert "turn failed (speech at " in done.stdout
    assert "maximum context length" in done.stdout
    assert "give fewer tools with --tools, or start vLLM with a larger --max-model-len" in (
        done.stdout
    )
    record = json.loads(log.read_text())
    assert record["event"] == "turn_failed" and record["utterance"]["start"] > 0.5
    assert record["utterance"]["end"] > record["utterance"]["start"] and not record["ok"]


def test_user_tools_and_tool_choice(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str]
) -> None:
    def forced(request: object) -> None:
        body = request.body  # type: ignore[attr-defined]
        assert body["tool_choice"] == "required"
        assert [tool["function"]["name"] for tool in body["tools"]] == ["add", "shout"]

    scripted_server.reply_tool_call("add", {"a": 2, "b": 3}, expect=forced)
    scripted_server.reply("Five.")
    done = run_voxagent(
        "run", "--base-url", scripted_server.base_url, "--replay", str(speech["one"]), "--fast",
        "--tools", "tests.cli.sample_tools.decorated", "--tool-choice", "required",
        env=env, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert "⚙ add(a=2, b=3) → 5" in done.stdout and "2 tools" in done.stdout


def test_run_replay_needs_only_the_turns_scripted(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str]
) -> None:
    scripted_server.reply_tool_call("calculate", {"expression": "6*7"}).reply("Forty-two.")
    done = run_voxagent(
        "run", "--replay", str(speech["one"]), "--fast", "--base-url", scripted_server.base_url,
        env=env,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert "calculate(expression='6*7') → 42" in done.stdout
    assert "assistant Forty-two." in done.stdout
    assert len(scripted_server.probes) == 1  # the check ran, and took no scripted step
    assert [r.tool_choice for r in scripted_server.requests] == ["auto", "auto"]
