"""The vLLM launcher: the command it builds, how it finds vLLM and GPUs, start/wait/stop."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from agent.cli._vllm import (
    ServeOptions,
    VllmNotFoundError,
    VllmProcess,
    VllmStartError,
    _parse_gpu_line,
    build_command,
    find_vllm,
)
from tests.cli.conftest import free_port

FAKE_VLLM = Path(__file__).with_name("fake_vllm.py")


def test_command_has_every_flag_voxtral_needs() -> None:
    command = build_command(ServeOptions(), ["vllm"])
    assert command[:3] == ["vllm", "serve", "RedHatAI/Voxtral-Mini-3B-2507-FP8-dynamic"]
    text = shlex.join(command)
    for flag in (
        "--tokenizer-mode mistral",
        "--config-format mistral",
        "--load-format mistral",
        "--enable-auto-tool-choice",
        "--tool-call-parser mistral",
        "--max-model-len 32768",
        """--limit-mm-per-prompt '{"audio": 5}'""",
        "--served-model-name voxtral",
        "--host 127.0.0.1",
        "--port 8000",
    ):
        assert flag in text
    assert "--gpu-memory-utilization" not in text


def test_options_and_extra_flags_are_passed_on() -> None:
    options = ServeOptions(
        model="/models/voxtral",
        port=8123,
        max_model_len=8192,
        gpu_memory_utilization=0.5,
        extra_args=("--enforce-eager",),
    )
    command = build_command(options, ["python", "-m", "vllm.entrypoints.cli.main"])
    assert command[:5] == ["python", "-m", "vllm.entrypoints.cli.main", "serve", "/models/voxtral"]
    assert command[-3:] == ["--gpu-memory-utilization", "0.5", "--enforce-eager"]
    assert "8192" in command and "8123" in command
    assert ServeOptions(host="0.0.0.0", port=1).base_url == "http://127.0.0.1:1/v1"


def test_find_vllm_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("VOXAGENT_VLLM", raising=False)
    assert find_vllm("/opt/venv/bin/python -m vllm") == ["/opt/venv/bin/python", "-m", "vllm"]
    monkeypatch.setenv("VOXAGENT_VLLM", "/srv/vllm")
    assert find_vllm() == ["/srv/vllm"]
    monkeypatch.delenv("VOXAGENT_VLLM")
    executable = tmp_path / "vllm"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    assert find_vllm() == [str(executable)]
    executable.unlink()
    with pytest.raises(VllmNotFoundError):  # vllm is not installed in this venv
        find_vllm()


def test_gpu_lines_from_nvidia_smi() -> None:
    h100 = _parse_gpu_line("NVIDIA H100 80GB HBM3, 9.0, 81559")
    assert (h100.name, h100.compute_capability, h100.memory_mib) == (
        "NVIDIA H100 80GB HBM3",
        9.0,
        81559,
    )
    assert h100.full_fp8
    a100 = _parse_gpu_line("NVIDIA A100-SXM4-40GB, 8.0, 40960")
    assert not a100.full_fp8
    assert _parse_gpu_line("Odd GPU, [N/A], [N/A]").compute_capability is None


def _fake(tmp_path: Path, port: int) -> VllmProcess:
    options = ServeOptions(model="tiny", port=port)
    command = build_command(options, [sys.executable, str(FAKE_VLLM)])
    return VllmProcess(command, tmp_path / "logs" / "vllm.log", options.base_url)


async def test_starts_waits_for_health_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "record"
    monkeypatch.setenv("FAKE_VLLM_RECORD", str(record))
    process = _fake(tmp_path, free_port())
    process.start()
    seen: list[float] = []
    try:
        await process.wait_ready(30, lambda waited, line: seen.append(waited))
        assert process.running
        assert any("fake vLLM starting" in line for line in process.log_tail())
        assert seen  # progress was reported while waiting
    finally:
        await process.stop(grace=5)
    assert not process.running
    argv, signal_name = record.read_text().split("\n", 1)
    assert json.loads(argv)[:2] == ["serve", "tiny"]
    assert signal_name.strip() == "SIGINT"  # stopped gently first


async def test_a_crash_is_reported_with_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_VLLM_RECORD", str(tmp_path / "record"))
    monkeypatch.setenv("FAKE_VLLM_MODE", "crash")
    process = _fake(tmp_path, free_port())
    process.start()
    with pytest.raises(VllmStartError, match="exited with status 3") as caught:
        await process.wait_ready(30)
    assert caught.value.log_tail[-1] == "ERROR CUDA out of memory (fake)"


async def test_a_slow_start_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_VLLM_RECORD", str(tmp_path / "record"))
    monkeypatch.setenv("FAKE_VLLM_DELAY", "30")
    process = _fake(tmp_path, free_port())
    process.start()
    try:
        with pytest.raises(VllmStartError, match="not healthy after 1 s") as caught:
            await process.wait_ready(1)
        # Why the last health check failed, in words (not only that it did).
        assert str(caught.value).endswith("/health: Connection refused)")
    finally:
        await process.stop(grace=5)
