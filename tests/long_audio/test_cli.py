"""`voxagent transcribe` and `voxagent ask` on long recordings, as processes."""

from __future__ import annotations

import itertools
import json
import shlex
import shutil
from pathlib import Path

import pysubs2
import pytest

from agent.cli._exit import ExitCode
from agent.cli._transcribe import SUMMARY_PROMPT
from agent.testing import RecordedRequest, ScriptedServer, Step
from tests.cli.conftest import Terminal, clean_env, one_error_line, run_voxagent, voxagent_command
from tests.long_audio.recordings import Burst, bursts_in


def _text(request: RecordedRequest) -> str:
    return " ".join(f"b{k}" for k in bursts_in(request.body["file"]))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_are_written_and_parse_back(
    fmt: str, marked: tuple[Path, list[Burst]], env: dict[str, str], tmp_path: Path
) -> None:
    path, bursts = marked
    out = tmp_path / f"talk.{fmt}"
    with ScriptedServer(transcriber=_text) as server:
        argv = ["transcribe", str(path), "--format", fmt, "-o", str(out)]
        done = run_voxagent(*argv, "--base-url", server.base_url, env=env)
        sent = len(server.transcriptions)
    assert done.code == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""  # a pipe: no progress bar
    events = pysubs2.SSAFile.from_string(out.read_text())
    assert len(events) == sent > 3  # 30 s pieces for subtitles: one cue each
    assert " ".join(e.plaintext for e in events) == " ".join(f"b{b.k}" for b in bursts)
    starts = [e.start for e in events]
    assert starts == sorted(starts) and events[-1].end <= 1000 * (bursts[-1].end + 1)


def test_json_format_has_the_segments(marked: tuple[Path, list[Burst]], env: dict[str, str]):
    path, bursts = marked
    with ScriptedServer(transcriber=_text) as server:
        argv = ["transcribe", str(path), "--format", "json", "--piece-seconds", "60"]
        done = run_voxagent(*argv, "--base-url", server.base_url, env=env)
    assert done.code == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["file"] == str(path) and record["text"] == " ".join(f"b{b.k}" for b in bursts)
    segments = record["segments"]
    assert [s["index"] for s in segments] == list(range(len(segments)))
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(segments))


def test_a_failing_piece_fails_the_command_naming_its_range(
    marked: tuple[Path, list[Burst]], env: dict[str, str]
) -> None:
    path, _ = marked

    def answer(request: RecordedRequest) -> Step:
        if bursts_in(request.body["file"])[0] > 5:  # every piece from the second on
            return Step(kind="http_error", status=500, message="engine died")
        return Step(content=_text(request))

    with ScriptedServer(transcriber=answer) as server:
        argv = ["transcribe", str(path), "--piece-seconds", "30", "--base-url", server.base_url]
        done = run_voxagent(*argv, env=env)
    assert done.code == ExitCode.FAILURE and "Traceback" not in done.stderr
    line = done.error_lines[-1]  # after the client's warnings about its retries
    assert line.startswith(f"voxagent: error: {path}: the piece 0:0") and "–0:0" in line
    assert "failed after 2 attempt(s)" in line and "engine died" in line


def test_ask_summary_sends_the_long_recording_and_shows_the_ranges(
    tmp_path: Path, env: dict[str, str]
) -> None:
    from tests.long_audio.recordings import write_recording

    path = tmp_path / "meeting.wav"
    write_recording(path, seconds=1500, gaps=(0.3, 1.5), talk=(1, 4), seed=4)
    with ScriptedServer() as server:
        server.reply("Topics: ...")
        done = run_voxagent("ask", str(path), "--summary", "--base-url", server.base_url, env=env)
        (request,) = server.requests
    assert done.code == 0, done.stderr
    assert done.stdout == "Topics: ...\n"
    assert request.texts[-1] == SUMMARY_PROMPT and request.audio_count == 3
    assert f"sent 3 audio item(s): {path} 0:00:0" in done.stderr


def test_ask_summary_takes_only_files(marked: tuple[Path, list[Burst]], env: dict[str, str]):
    done = run_voxagent("ask", str(marked[0]), "What?", "--summary", env=env)
    assert "--summary asks its own question" in one_error_line(done, ExitCode.USAGE)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux for a terminal")
def test_a_terminal_shows_progress_and_ctrl_c_stops_cleanly(
    marked: tuple[Path, list[Burst]], env: dict[str, str]
) -> None:
    path, _ = marked
    with ScriptedServer(transcriber=lambda r: Step(kind="hang")) as server:
        command = [*voxagent_command(), "transcribe", str(path), "--base-url", server.base_url]
        terminal = Terminal(env)
        terminal.start(f"{shlex.join(command)}; echo EXIT=$?; sleep 60")
        try:
            screen = terminal.wait_for("left")
            assert "marked.wav" in screen and "min" in screen
            terminal.press("C-c")
            terminal.wait_for("EXIT=130")
        finally:
            terminal.close()
