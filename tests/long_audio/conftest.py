"""Generated recordings shared by the long-audio tests (written once per module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.long_audio.recordings import Burst, write_recording


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Burst]]:
    """About 8 minutes: 30-odd single-phrase bursts with loudness markers, pauses of 2-20 s."""
    path = tmp_path_factory.mktemp("long") / "marked.wav"
    return path, write_recording(path, seconds=480, marked=True, talk=(1, 1), seed=3)
