"""`voxagent run --serve` starting a REAL vLLM (the CPU build of ../shared/vllm-tiny).

Opt-in: it takes about 30 s and 3 GB of memory. Set VOXAGENT_TEST_SERVE_TINY=1 (and
VLLM_TINY_HOME if the tiny install is not in ~/.cache/vllm-tiny).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from tests.cli.conftest import clean_env, free_port, run_voxagent

ROOT = Path(__file__).parents[2]
TINY_HOME = Path(os.environ.get("VLLM_TINY_HOME", Path.home() / ".cache" / "vllm-tiny"))
VLLM_CLI = ROOT.parent / "shared" / "vllm-tiny" / "vllm_cli.py"

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(
        os.environ.get("VOXAGENT_TEST_SERVE_TINY") != "1",
        reason="set VOXAGENT_TEST_SERVE_TINY=1 to start a real (tiny, CPU) vLLM here",
    ),
]


def test_run_serve_starts_checks_answers_and_stops_a_real_vllm(tmp_path: Path) -> None:
    python = TINY_HOME / "venv" / "bin" / "python"
    if not python.exists() or not VLLM_CLI.exists():
        pytest.skip(f"the tiny vLLM install is missing ({python}, {VLLM_CLI})")
    env = clean_env(
        tmp_path,
        VLLM_TARGET_DEVICE="cpu",
        VLLM_CPU_KVCACHE_SPACE="1",
        VLLM_CACHE_ROOT=str(TINY_HOME / "cache"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    port = free_port()
    done = run_voxagent(
        "run", "--serve", "--no-gpu-check",
        "--vllm", f"{shlex.quote(str(python))} {shlex.quote(str(VLLM_CLI))}",
        "--serve-model", str(TINY_HOME / "model-v7"), "--served-model-name", "voxtral-tiny",
        "--base-url", f"http://127.0.0.1:{port}/v1", "--max-model-len", "4096",
        "--tools", "tests.cli.sample_tools.decorated", "--tool-choice", "required",
        "--replay", str(ROOT / "examples" / "audio" / "timer.wav"), "--fast",
        "--", "--dtype", "float32", "--enforce-eager",
        env=env, cwd=ROOT, timeout=280,
    )  # fmt: skip
    assert done.code == 0, done.stderr[-3000:]
    assert "⚙ add(a=0, b=0) → 0" in done.stdout
    assert "1 turn answered, 0 failed" in done.stdout
    assert done.stderr.rstrip().endswith("stopping vLLM...")
