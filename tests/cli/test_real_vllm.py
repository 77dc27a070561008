"""The commands against a REAL vLLM serving Voxtral's architecture (VOXAGENT_TEST_BASE_URL).

The tiny test model calls a tool only when forced (`--tool-choice required`), answers `auto`
with empty text, and transcribes to "". It has a 4096-token context, so these tests use a
small `--tools` module: the 12 built-in tools' schemas alone take most of it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.conftest import run_voxagent

BASE_URL = os.environ.get("VOXAGENT_TEST_BASE_URL")
pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(
        not BASE_URL, reason="VOXAGENT_TEST_BASE_URL is not set (start ../shared/vllm-tiny/up)"
    ),
]
ROOT = Path(__file__).parents[2]
SMALL_TOOLS = ["--tools", "tests.cli.sample_tools.decorated"]


def test_run_replay_with_a_forced_tool_call(speech: dict[str, Path], env: dict[str, str]) -> None:
    assert BASE_URL
    log = Path(env["VOXAGENT_DATA_DIR"]) / "talk.jsonl"
    done = run_voxagent(
        "run", "--base-url", BASE_URL, "--replay", str(speech["two"]), "--fast",
        *SMALL_TOOLS, "--tool-choice", "required", "--log", str(log),
        env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.code == 0, done.stdout + done.stderr
    assert done.stdout.count("⚙ add(a=0, b=0) → 0") == 2
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [record["event"] for record in records] == ["turn", "turn"]
    assert records[1]["usage"]["prompt_tokens"] > records[0]["usage"]["prompt_tokens"]


def test_replay_json(speech: dict[str, Path], env: dict[str, str]) -> None:
    assert BASE_URL
    done = run_voxagent(
        "replay", str(speech["one"]), "--json", "--base-url", BASE_URL, *SMALL_TOOLS,
        env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["ok"] and record["finish_reason"] == "stop"


def test_transcribe_and_ask(speech: dict[str, Path], env: dict[str, str]) -> None:
    assert BASE_URL
    transcribed = run_voxagent(
        "transcribe", str(speech["one"]), "--json", "--base-url", BASE_URL, env=env, timeout=120
    )
    assert transcribed.code == 0, transcribed.stderr
    assert json.loads(transcribed.stdout)["file"] == str(speech["one"])
    asked = run_voxagent(
        "ask", str(speech["one"]), str(speech["two"]), "Which is longer?", "--json",
        "--base-url", BASE_URL,
        env=env, timeout=120,
    )  # fmt: skip
    assert asked.code == 0, asked.stderr
    assert json.loads(asked.stdout)["usage"]["prompt_tokens"] > 2 * 376


def test_doctor_server_checks(env: dict[str, str], tmp_path: Path) -> None:
    """With a tool set this server can hold (the tiny model's tokenizer is nearly byte-level:
    the 12 built-ins overflow its 4096 tokens, see the next test), every server check passes."""
    assert BASE_URL
    env["PULSE_SERVER"] = "unix:/nonexistent"
    tools = tmp_path / "my_tools.py"
    tools.write_text(
        "from tools import tool\n\n\n@tool\ndef add(a: int, b: int) -> int:\n"
        '    """Add two numbers."""\n    return a + b\n'
    )
    done = run_voxagent(
        "doctor", "--no-mic", "--tools", str(tools), "--base-url", BASE_URL, env=env,
        cwd=tmp_path, timeout=120,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert f"✓ server: vLLM answers at {BASE_URL.rstrip('/')}" in lines
    assert "✓ tool calling: enabled (auto tool choice, mistral parser)" in lines
    assert any(line.startswith("✓ round trip:") for line in lines), done.stdout


def test_doctor_fails_where_every_real_turn_would(env: dict[str, str]) -> None:
    """Issue 8 (2.6): the round trip sends the tools `run` would send, so a tool set that
    overflows the server's context is a failed check, not a pass."""
    assert BASE_URL
    done = run_voxagent("doctor", "--no-mic", "--base-url", BASE_URL, env=env, timeout=120)
    assert done.code != 0
    failed = [line for line in done.stdout.splitlines() if line.startswith("✗ round trip:")]
    assert failed and "maximum context length" in failed[0], done.stdout


def test_a_new_users_tools_file_against_the_real_vllm(env: dict[str, str], tmp_path: Path):
    REAL_URL = BASE_URL
    assert REAL_URL
    tools = tmp_path / "my_tools.py"
    tools.write_text(
        "from tools import tool\n\n\n@tool\ndef add(a: int, b: int) -> int:\n"
        '    """Add two numbers."""\n    return a + b\n'
    )
    done = run_voxagent(
        "run", "--replay", str(ROOT / "examples" / "audio" / "what_time.wav"), "--fast",
        "--tools", str(tools), "--tool-choice", "required", "--base-url", REAL_URL,
        env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.code == 0, done.stdout + done.stderr
    assert "⚙ add(a=0, b=0) → 0" in done.stdout
    assert "1 turn answered, 0 failed" in done.stdout
