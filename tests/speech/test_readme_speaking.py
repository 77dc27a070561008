"""The README's "Speaking in the conversation" example runs as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from agent import Agent
from agent.audio import segment
from agent.testing import ScriptedServer

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(containing: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    matches = [block for block in blocks if containing in block]
    assert len(matches) == 1, f"expected one README block with {containing!r}"
    return str(matches[0])


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
async def test_speak_a_recording(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    recording = tmp_path / "question.wav"
    from agent.speech import EspeakVoice
    from tests.speech.conftest import synthesize_16k

    question = await synthesize_16k(EspeakVoice(), "What is the time?")
    sf.write(
        recording,
        np.concatenate([np.zeros(8000, np.int16), question, np.zeros(24000, np.int16)]),
        16000,
    )
    scripted_server.reply("It is noon.")
    namespace: dict[str, Any] = {}
    exec(compile(_block("async def speak_a_recording"), str(README), "exec"), namespace)
    agent = Agent(base_url=scripted_server.base_url, transcribe_turns=False)
    async with agent:
        cut = await namespace["speak_a_recording"](
            agent, str(recording), str(tmp_path / "said.wav")
        )
    assert cut == []
    assert len(segment(tmp_path / "said.wav")) == 1
