"""`replay`, `transcribe`, `ask` and `doctor` as processes against the scripted server."""

from __future__ import annotations

import json
from pathlib import Path

from agent.cli import ExitCode
from agent.testing import RecordedRequest, ScriptedServer
from tests.cli.conftest import EXAMPLE, free_port, one_error_line, run_voxagent


def audio_parts(request: RecordedRequest) -> int:
    return sum(
        1
        for message in request.body["messages"]
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if part.get("type") == "input_audio"
    )


def test_replay_prints_each_turn(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str]
) -> None:
    scripted_server.transcribe_as("What time is it?", "Take a note: buy milk.")
    scripted_server.reply_tool_call("get_current_time", {"timezone": "Asia/Tokyo"})
    scripted_server.reply("It is morning in Tokyo.")
    scripted_server.reply("I can't take notes without your approval.")
    done = run_voxagent(
        "replay", str(speech["two"]), "--base-url", scripted_server.base_url, env=env
    )
    assert done.code == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"{speech['two']}\nyou (turn 1: ")
    assert '⚙ get_current_time(timezone=\'Asia/Tokyo\') → {"timezone": "Asia/Tokyo"' in out
    assert "assistant It is morning in Tokyo.\n" in out
    # Each transcript is made beside its turn (issue 8, 1.6) and shown when it comes.
    assert "heard: What time is it?\n" in out and "heard: Take a note: buy milk.\n" in out
    assistant = [line for line in out.splitlines() if line.startswith("assistant ")]
    assert assistant[-1] == "assistant I can't take notes without your approval."


def test_replay_json(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str]
) -> None:
    scripted_server.reply("One.").reply("Two.")
    done = run_voxagent(
        "replay", str(speech["two"]), "--json", "--base-url", scripted_server.base_url, env=env
    )
    assert done.code == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [record["text"] for record in records] == ["One.", "Two."]
    assert all(record["ok"] and record["source"] == str(speech["two"]) for record in records)
    assert [record["event"] for record in records] == ["turn", "turn"]
    first, second = (record["utterance"] for record in records)
    assert 0.5 < first["start"] < first["end"] < second["start"] < second["end"]


def test_transcribe_one_and_many(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str]
) -> None:
    scripted_server.transcribe_as("what is six times seven", "what time is it", "bonjour")
    url = ["--base-url", scripted_server.base_url]
    one = run_voxagent("transcribe", str(speech["one"]), *url, env=env)
    assert (one.code, one.stdout) == (0, "what is six times seven\n")
    many = run_voxagent(
        "transcribe", str(speech["two"]), str(speech["one"]), "--language", "fr", "--json", *url,
        env=env,
    )  # fmt: skip
    assert many.code == 0, many.stderr
    assert [json.loads(line) for line in many.stdout.splitlines()] == [
        {"file": str(speech["two"]), "language": "fr", "text": "what time is it"},
        {"file": str(speech["one"]), "language": "fr", "text": "bonjour"},
    ]
    assert scripted_server.requests == []  # transcription only, no chat


def test_ask_sends_every_file_with_the_question(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str]
) -> None:
    def both_clips(request: RecordedRequest) -> None:
        assert audio_parts(request) == 2
        assert "Which one is a question about time?" in json.dumps(request.body["messages"])
        assert "tools" not in request.body

    scripted_server.reply("The second one.", expect=both_clips)
    done = run_voxagent(
        "ask", str(speech["one"]), str(speech["two"]), "Which one is a question about time?",
        "--base-url", scripted_server.base_url, "--json",
        env=env,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["answer"] == "The second one."
    assert answer["files"] == [str(speech["one"]), str(speech["two"])]


def test_doctor_checks_each_piece(scripted_server: ScriptedServer, env: dict[str, str]) -> None:
    env["PULSE_SERVER"] = "unix:/nonexistent"  # no microphone here
    scripted_server.reply("OK")
    done = run_voxagent("doctor", "--base-url", scripted_server.base_url, env=env)
    assert done.code == 1
    lines = done.stdout.splitlines()
    assert lines[0] == "✓ python packages: all required packages import"
    assert "✗ microphone: no input device found" in lines
    assert f"✓ server: vLLM answers at {scripted_server.base_url}" in lines
    assert "✓ model: voxtral-scripted (context 32768 tokens)" in lines
    assert "✓ tool calling: enabled (auto tool choice, mistral parser)" in lines
    assert any(line.startswith("✓ round trip: a 1.6 s clip: chat reply in ") for line in lines)
    assert lines[-1] == "1 problem: microphone"


def test_doctor_without_server_says_what_to_do(env: dict[str, str]) -> None:
    env["PULSE_SERVER"] = "unix:/nonexistent"
    done = run_voxagent("doctor", "--base-url", "http://127.0.0.1:9/v1", env=env)
    assert done.code == 1
    assert (
        "✗ server: no vLLM server answers at http://127.0.0.1:9/v1 (Connection refused): start "
        "one with" in done.stdout
    )
    assert "- round trip: needs the server" in done.stdout


def test_replay_with_tool_calling_off_is_refused_before_any_turn(
    speech: dict[str, Path], env: dict[str, str]
) -> None:
    with ScriptedServer(tool_calling=False) as server:
        done = run_voxagent("replay", str(speech["one"]), "--base-url", server.base_url, env=env)
        assert server.requests == [] and len(server.probes) == 1
    assert "tool calling is off" in one_error_line(done, ExitCode.SERVER_UNAVAILABLE)


def test_doctor_reads_the_environment_variable(tmp_path: Path) -> None:
    from tests.cli.conftest import clean_env

    url = f"http://127.0.0.1:{free_port()}/v1"
    env = clean_env(tmp_path, VOXAGENT_BASE_URL=url, PULSE_SERVER="unix:/nonexistent")
    done = run_voxagent("doctor", env=env)
    assert done.code == ExitCode.FAILURE
    assert f"✗ server: no vLLM server answers at {url}" in done.stdout


def test_options_may_sit_between_the_files(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str]
) -> None:
    scripted_server.reply("The second.")
    done = run_voxagent(
        "ask", str(speech["one"]), "--json", str(speech["two"]), "Which is longer?",
        "--base-url", scripted_server.base_url,
        env=env,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["files"] == [str(speech["one"]), str(speech["two"])]
    assert (answer["question"], answer["answer"]) == ("Which is longer?", "The second.")
    assert scripted_server.requests[0].audio_count == 2


def test_an_empty_transcript_is_said_on_stderr(
    scripted_server: ScriptedServer, env: dict[str, str]
) -> None:
    done = run_voxagent("transcribe", EXAMPLE, "--base-url", scripted_server.base_url, env=env)
    assert done.code == 0 and done.stdout == "\n"
    assert done.error_lines == [
        f"voxagent: {EXAMPLE}: the transcript is empty (the model heard no words)"
    ]


def test_ask_several_questions_in_one_conversation(
    scripted_server: ScriptedServer, speech: dict[str, Path], env: dict[str, str]
) -> None:
    scripted_server.reply("A question about a sum.").reply("The second asks the time.")
    one, two = str(speech["one"]), str(speech["two"])
    done = run_voxagent(
        "ask", one, "What is the first about?", two, "And this one?", "--json",
        "--base-url", scripted_server.base_url,
        env=env,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(a["files"], a["question"]) for a in answers] == [
        ([one], "What is the first about?"),
        ([two], "And this one?"),
    ]
    assert answers[1]["answer"] == "The second asks the time."
    first, second = scripted_server.requests
    assert (first.audio_count, second.audio_count) == (1, 2)  # the history went along
    scripted_server.reply("A1.").reply("A2.")
    text = run_voxagent(
        "ask", one, "q1", two, "q2", "--base-url", scripted_server.base_url, env=env
    )  # fmt: skip
    assert (text.code, text.stdout) == (0, "Q: q1\nA: A1.\nQ: q2\nA: A2.\n")


def test_doctor_without_a_microphone_passes_for_replay(
    scripted_server: ScriptedServer, env: dict[str, str]
) -> None:
    env["PULSE_SERVER"] = "unix:/nonexistent"  # no microphone here

    def with_the_tools_run_sends(request: RecordedRequest) -> None:
        assert len(request.body["tools"]) == 12 and request.body["tool_choice"] == "none"

    scripted_server.reply("OK", expect=with_the_tools_run_sends)
    done = run_voxagent("doctor", "--no-mic", "--base-url", scripted_server.base_url, env=env)
    assert done.code == 0, done.stdout
    lines = done.stdout.splitlines()
    assert "- microphone: --no-mic (recordings only: voxagent run --replay FILE)" in lines
    tools = next(line for line in lines if line.startswith("✓ tools: 12 tools ~"))
    assert "(convert_time " in tools and "of the server's 32768" in tools
    assert any(line.startswith("✓ round trip: a 1.6 s clip: chat reply in ") for line in lines)
    assert lines[-1] == "everything `voxagent run --replay` needs works"


def test_doctor_and_run_see_tools_that_leave_no_room_for_speech(
    speech: dict[str, Path], env: dict[str, str]
) -> None:
    env["PULSE_SERVER"] = "unix:/nonexistent"
    with ScriptedServer(max_model_len=2048) as server:
        doctor = run_voxagent("doctor", "--no-mic", "--base-url", server.base_url, env=env)
        run = run_voxagent("run", "--replay", str(speech["one"]), "--base-url", server.base_url,
                           env=env)  # fmt: skip
        assert server.requests == []  # neither tried a turn that must fail
    assert doctor.code == 1
    assert "✗ tools: no room for speech in the context: 12 tools ~" in doctor.stdout
    assert doctor.stdout.splitlines()[-1] == "1 problem: tools"
    line = one_error_line(run, ExitCode.SERVER_UNAVAILABLE)
    assert line.startswith("voxagent: error: the server's context is too small for these tools: ")
    assert "(convert_time " in line and "of the server's 2048" in line
    assert line.endswith("or start vLLM with a larger --max-model-len (voxagent serve uses 32768)")
