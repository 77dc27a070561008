"""The README's "Long recordings" example runs as written (against the scripted server)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pysubs2

from agent.testing import ScriptedServer
from tests.long_audio.recordings import Burst, bursts_in

README = Path(__file__).resolve().parents[2] / "README.md"


async def test_the_long_recordings_example(
    marked: tuple[Path, list[Burst]], tmp_path: Path, monkeypatch: Any
) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    (block,) = [block for block in blocks if "async def transcribe_meeting" in block]
    namespace: dict[str, Any] = {}
    exec(compile(block, str(README), "exec"), namespace)
    monkeypatch.chdir(tmp_path)

    def text(request: Any) -> str:
        return " ".join(f"b{k}" for k in bursts_in(request.body["file"]))

    with ScriptedServer(transcriber=text) as server:
        server.reply("Topics: the budget.")
        answer = await namespace["transcribe_meeting"](server.base_url, os.fspath(marked[0]))
    assert answer == "Topics: the budget."
    cues = pysubs2.load(str(tmp_path / "meeting.srt"))
    assert " ".join(cue.plaintext for cue in cues).startswith("b0 b1")
