"""The live console's lines and panel, and the JSONL transcript, in-process."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from agent.audio import Utterance
from agent.cli._console import LiveConsole, format_tool_result
from agent.cli._exit import CliError, ExitCode
from agent.cli._transcript_log import TranscriptLog, TurnRecords, turn_record
from agent.events import (
    ReplyText,
    SpeechStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    TurnTranscribed,
    UtteranceDropped,
    UtteranceEnded,
)
from agent.turn import Turn
from tools import ToolResult
from tools.builtin import Timer, TimerService


def recording_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None, soft_wrap=True), out


def utterance(start: float = 1.0, end: float = 2.5) -> Utterance:
    return Utterance(np.zeros(16000 * 2, dtype=np.int16), start=start, end=end, emitted_at=end)


def render(live: LiveConsole) -> str:
    console, out = recording_console()
    console.print(live.render())
    return out.getvalue()


def test_a_turn_as_lines_and_panel_states() -> None:
    console, out = recording_console()
    live = LiveConsole(console, title="voxagent · test", live=False)
    assert "○ listening" in render(live) and "speak when you are ready" in render(live)
    live.level(-12.0, True)
    live.show(SpeechStarted(at=1.0))
    panel = render(live)
    assert "● hearing" in panel and "-12.0 dBFS" in panel and "█" * 19 in panel
    live.level(-120.0, False)
    assert "silence" in render(live)
    heard = utterance()
    live.show(UtteranceEnded(heard))
    live.show(TurnStarted(index=0, utterance=heard))
    assert "thinking…" in render(live)
    live.show(ToolCallStarted(call_id="abcdefghi", name="calculate", arguments={"x": "1+1"}))
    assert "running calculate" in render(live)
    result = ToolResult(ok=True, content="2", value=2, name="calculate",
                        arguments={"x": "1+1"}, call_id="abcdefghi", duration=0.01)  # fmt: skip
    live.show(ToolCallFinished(result))
    live.show(ReplyText("Two"))
    assert "Two" in render(live)
    live.show(TurnTranscribed(0, "one plus one"))  # the transcript comes beside the turn
    live.show(TurnFinished(Turn(text="Two.", transcript="one plus one")))
    assert "speak when you are ready" in render(live)
    assert out.getvalue().splitlines() == [
        "you (turn 1: 1.5 s of speech at 1.0 s)",
        "  ⚙ calculate(x='1+1') → 2 (0.01 s)",
        "  heard: one plus one",
        "assistant Two.",
    ]
    assert (live.turns, live.failures) == (1, 0)


def test_failures_drops_and_timers_are_shown() -> None:
    console, out = recording_console()
    live = LiveConsole(console, title="t", live=False)
    live.show(UtteranceDropped(utterance(3.0, 3.1), reason="too short"))
    live.show(TurnStarted(index=0, utterance=utterance(4.0, 5.0)))
    live.show(TurnFailed(RuntimeError("server\nwent away"), utterance=utterance(4.0, 5.0)))
    live.timer_rang(Timer(id=1, kind="timer", label="tea", due=datetime(2026, 1, 1, 8, 0)))
    assert out.getvalue().splitlines() == [
        "! dropped 0.1 s of speech at 3.0 s: too short",
        "you (turn 1: 1.0 s of speech at 4.0 s)",
        "turn failed (speech at 4.0 s): server went away",
        "⏰ timer 'tea' is ringing (due 08:00:00)",
    ]
    assert live.failures == 1


async def test_approval_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    console, out = recording_console()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert not await LiveConsole(console, title="t", live=False).approve("rm", {"path": "/"})
    assert "refused rm(path='/'): it needs approval and there is no terminal" in out.getvalue()
    assert await LiveConsole(console, title="t", auto_approve=True, live=False).approve("rm", {})
    assert "approved rm() (--yes)" in out.getvalue()


def test_failed_tool_results_are_red_lines() -> None:
    failed = ToolResult(ok=False, content="Division by zero.", name="calculate",
                        arguments={"expression": "1/0"}, error="Division by zero.")  # fmt: skip
    assert format_tool_result(failed).startswith("[red]⚙ calculate(expression='1/0') ✗ Division")


async def test_transcript_log_appends_json_lines(tmp_path: Path) -> None:
    log = TranscriptLog(tmp_path / "logs" / "talk.jsonl")
    records = TurnRecords("mic")
    assert records.record(TurnStarted(index=0, utterance=utterance(1.0, 2.5))) is None
    finished = records.record(TurnFinished(Turn(text="Hi.", transcript="hello")))
    failed = records.record(TurnFailed(RuntimeError("boom"), utterance=utterance(1.5, 3.0)))
    assert finished is not None and failed is not None
    await log.append(finished)
    await log.append(failed)
    first, second = (json.loads(line) for line in log.path.read_text().splitlines())
    assert first["event"] == "turn" and first["text"] == "Hi." and first["transcript"] == "hello"
    assert first["source"] == "mic" and first["utterance"] == {"start": 1.0, "end": 2.5}
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert second == {**second, "event": "turn_failed", "utterance": {"start": 1.5, "end": 3.0},
                      "error": "RuntimeError: boom", "ok": False}  # fmt: skip


def test_replay_json_and_the_log_share_one_record() -> None:
    finished = TurnFinished(Turn(text="Hi."))
    record = turn_record(finished, source="a.wav", utterance=utterance(0.5, 1.0))
    assert {key: record[key] for key in ("event", "source", "utterance", "ok")} == {
        "event": "turn", "source": "a.wav", "utterance": {"start": 0.5, "end": 1.0}, "ok": True,
    }  # fmt: skip
    assert turn_record(finished, source=None, utterance=None)["utterance"] is None


def test_transcript_log_in_an_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CliError) as caught:
        TranscriptLog(blocker / "talk.jsonl")
    assert caught.value.code == ExitCode.BAD_INPUT
    assert caught.value.message.startswith(f"--log {blocker / 'talk.jsonl'}: cannot write there")


async def test_pending_timers_in_the_panel() -> None:
    console, _ = recording_console()
    timers = TimerService()
    live = LiveConsole(console, title="t", live=False, timers=timers)
    assert "⏲" not in render(live)
    timers.start_timer(90, "tea")
    timers.start_timer(3700, "")
    assert "⏲ tea in 1:30, timer in 1:01:40" in render(live)
    timers.cancel_all()


def test_without_live_panel_nothing_but_lines_is_drawn() -> None:
    console, out = recording_console()
    with LiveConsole(console, title="t", live=False) as live:
        live.show(SpeechStarted(at=0.0))
    assert out.getvalue() == ""
    with LiveConsole(console, title="panel title", live=True):
        pass
    assert out.getvalue() == ""  # transient: the panel is cleared when it stops


def test_the_panel_leaves_the_last_columns_free_and_says_what_it_waits_for() -> None:
    console, _ = recording_console()
    live = LiveConsole(console, title="t", live=False, idle_hint="replaying talk.wav")
    lines = render(live).splitlines()
    assert "replaying talk.wav · Ctrl-C quits" in render(live)
    # A terminal echoes Ctrl-C as "^C": on a full-width panel that wraps the cursor to a new
    # line, and erasing the panel then leaves its top border behind.
    assert {len(line) for line in lines} == {console.width - 2}
