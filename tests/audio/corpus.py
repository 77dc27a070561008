"""The generated speech corpus (scripts/make_corpus.py) as a session fixture for tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "tests" / "corpus" / "generated"


@dataclass(frozen=True)
class Corpus:
    """The corpus folder and its ground truth."""

    folder: Path
    truth: dict[str, Any]

    def path(self, stem: str) -> Path:
        """The WAV of one condition, e.g. "clean" or "pink_10db"."""
        return self.folder / f"{stem}.wav"

    def utterances(self, stem: str) -> list[dict[str, Any]]:
        """Ground truth of one file: start, end, text, voice, level."""
        for entry in self.truth["files"]:
            if entry["path"] == f"{stem}.wav":
                return list(entry["utterances"])
        raise KeyError(stem)


def build_corpus() -> Corpus:
    """Generate the corpus if needed (skips the test when espeak-ng or sox is missing)."""
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        tools = " and ".join(missing)
        pytest.skip(f"the test corpus needs {tools} (apt-get install espeak-ng sox)")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_corpus.py"), "--out", str(GENERATED)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return Corpus(GENERATED, json.loads((GENERATED / "truth.json").read_text()))


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    """The generated corpus (built once per session)."""
    return build_corpus()
