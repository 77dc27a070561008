"""`voxagent run --replay X --speak-to out.wav` and `voxagent say` as processes, against the
scripted server: what the assistant says lands on the input's timeline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.audio import segment
from agent.testing import ScriptedServer
from tests.cli.conftest import env, run_voxagent, speech

__all__ = ["env", "speech"]

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


@pytest.mark.parametrize("pace", ["realtime", "fast"])
def test_run_speaks_to_a_wav_on_the_input_timeline(
    scripted_server: ScriptedServer,
    speech: dict[str, Path],
    env: dict[str, str],
    tmp_path: Path,
    pace: str,
) -> None:
    scripted_server.transcribe_as("What time is it?", "Take a note: buy milk.")
    scripted_server.reply("It is noon. Anything else?").reply("Noted.")
    out = tmp_path / "said.wav"
    done = run_voxagent(
        "run", "--base-url", scripted_server.base_url, "--replay", str(speech["two"]),
        "--voice", "espeak", "--speak-to", str(out), "--tools", "tests.cli.sample_tools.decorated",
        *(["--fast"] if pace == "fast" else []),
        env=env,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert "speaking with espeak" in done.stderr
    asked = segment(speech["two"])
    said = segment(out)
    assert len(asked) == 2 and len(said) == 2
    pre_roll = 0.35  # segment's utterances start a little before their speech
    assert said[0].start + pre_roll >= asked[0].end
    assert said[1].start + pre_roll >= asked[1].end
    assert said[0].end <= asked[1].start + pre_roll  # the first answer before the next question


def test_say_writes_a_wav(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    done = run_voxagent(
        "say", "Hello there, how are you?", "--voice", "espeak", "-o", str(out), env=env
    )
    assert done.code == 0, done.stderr
    assert len(segment(out)) == 1


def test_voices_lists_the_default(env: dict[str, str]) -> None:
    done = run_voxagent("voices", env=env)
    assert done.code == 0, done.stderr
    assert "espeak" in done.stdout and "default: " in done.stdout
