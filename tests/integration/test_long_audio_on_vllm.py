"""Long recordings against a real vLLM with the production context (32768 tokens).

These need a second server, started with that context on its own port, for example:

    VLLM_TINY_MAX_MODEL_LEN=32768 ../shared/vllm-tiny/up 8012
    export VOXAGENT_TEST_LONG_BASE_URL=http://127.0.0.1:8012/v1

(`scripts/run-tests` does it when the tiny vLLM is available). They skip without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent import Agent
from tests.cli.conftest import clean_env, run_voxagent
from tests.long_audio.recordings import write_recording

LONG_BASE_URL = os.environ.get("VOXAGENT_TEST_LONG_BASE_URL", "")

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(
        not LONG_BASE_URL,
        reason="VOXAGENT_TEST_LONG_BASE_URL is not set: start a vLLM with --max-model-len "
        "32768 (VLLM_TINY_MAX_MODEL_LEN=32768 ../shared/vllm-tiny/up 8012) and export its URL",
    ),
]


@pytest.fixture(scope="module")
def meeting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 minutes of talk with short pauses."""
    path = tmp_path_factory.mktemp("long") / "meeting.wav"
    write_recording(path, seconds=2400, gaps=(0.3, 1.5), talk=(1, 4), seed=7)
    return path


@pytest.fixture(scope="module")
def lecture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 minutes of talk."""
    path = tmp_path_factory.mktemp("long") / "lecture.wav"
    write_recording(path, seconds=720, gaps=(0.3, 3.0), talk=(1, 4), seed=8)
    return path


async def test_the_server_has_the_production_context() -> None:
    async with Agent(base_url=LONG_BASE_URL) as agent:
        info = await agent.check_server(probe_tools=False)
    assert info.max_model_len == 32768


async def test_a_40_minute_recording_in_one_request(meeting: Path) -> None:
    async with Agent(base_url=LONG_BASE_URL, transcribe_turns=False) as agent:
        turn = await agent.run(meeting, text="Summarize this meeting")
    assert turn.audio_seconds > 35 * 60
    assert turn.usage.prompt_tokens > 28_000  # all of its audio went in one request
    assert turn.rounds == 1


def test_ask_a_40_minute_recording(meeting: Path, tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    done = run_voxagent(
        "ask", str(meeting), "Summarize this meeting", "--base-url", LONG_BASE_URL, env=env,
        timeout=600,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert f"audio item(s): {meeting}" in done.stderr


async def test_a_12_minute_transcription_is_split_and_every_piece_accepted(lecture: Path) -> None:
    async with Agent(base_url=LONG_BASE_URL) as agent:
        transcript = await agent.transcribe(lecture, max_piece_seconds=120)
    assert len(transcript.segments) >= 4  # every piece answered (the tiny model says "")
    ends = [segment.end for segment in transcript.segments]
    assert ends == sorted(ends) and ends[-1] <= transcript.duration


def test_transcribe_a_12_minute_recording_to_subtitles(lecture: Path, tmp_path: Path) -> None:
    out = tmp_path / "lecture.srt"
    done = run_voxagent(
        "transcribe", str(lecture), "--format", "srt", "-o", str(out),
        "--base-url", LONG_BASE_URL, env=clean_env(tmp_path), timeout=600,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert out.exists()  # empty cues are left out: the tiny model transcribes nothing
