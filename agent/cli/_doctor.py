"""`voxagent doctor`: check each piece `voxagent run` needs and say what to fix."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from rich.console import Console
from rich.markup import escape

from agent.audio import Microphone, input_devices, level_dbfs
from agent.cli._agent_setup import agent_for, parse_device
from agent.cli._exit import CliError, ExitCode, one_line
from agent.cli._server import check_server
from agent.cli._vllm import VllmNotFoundError, find_gpus, find_vllm
from agent.client import ServerInfo
from agent.errors import AudioDeviceError, VoxagentError
from agent.testing.audio import silence, tone

__all__ = ["doctor_command"]

Outcome = Literal["ok", "warn", "fail", "skip"]

_REQUIRED = ["mistral_common", "openai", "pydantic", "numpy", "soundfile", "soxr", "webrtcvad"]
_MARKS = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]", "skip": "[dim]-[/]"}


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one check: what was found, and for a problem what to do."""

    name: str
    outcome: Outcome
    detail: str
    fix: str = ""


async def doctor_command(args: argparse.Namespace) -> ExitCode:
    """Run every check in order, printing each as it completes; 1 if any failed."""
    console = Console(highlight=False, soft_wrap=True)
    checks: list[Check] = []

    def report(check: Check) -> None:
        checks.append(check)
        line = f"{_MARKS[check.outcome]} [bold]{check.name}[/]: {escape(check.detail)}"
        if check.fix:
            line += f"\n    [cyan]fix:[/] {escape(check.fix)}"
        console.print(line)

    report(_packages())
    report(_vllm_here())
    report(await _gpu())
    portaudio = _portaudio()
    report(portaudio)
    if portaudio.outcome == "ok":
        report(await _microphone(args.device))
    else:
        report(Check("microphone", "skip", "needs PortAudio"))
    info, server_checks = await _server(args)
    for check in server_checks:
        report(check)
    if info is not None:
        report(await _guarded_check(_round_trip(args, info), "round trip"))
    else:
        report(Check("round trip", "skip", "needs the server"))
    failed = [check.name for check in checks if check.outcome == "fail"]
    if failed:
        console.print(f"[red]{len(failed)} problem(s): {', '.join(failed)}[/]")
        return ExitCode.FAILURE
    console.print("[green]everything `voxagent run` needs works[/]")
    return ExitCode.OK


def _packages() -> Check:
    missing = []
    for name in _REQUIRED:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        return Check(
            "python packages",
            "fail",
            f"missing: {', '.join(missing)}",
            "pip install voxtral-agent (in the environment that runs voxagent)",
        )
    detail = "all required packages import"
    if importlib.util.find_spec("onnxruntime") is None:
        detail += "; onnxruntime is missing (only for --vad silero: the `silero` extra)"
    return Check("python packages", "ok", detail)


def _vllm_here() -> Check:
    try:
        command = find_vllm()
    except VllmNotFoundError:
        return Check(
            "vllm",
            "ok",
            "not installed here: fine when the server runs elsewhere; to serve from this "
            "machine: pip install 'voxtral-agent[serve]'",
        )
    return Check("vllm", "ok", f"found: {' '.join(command)}")


async def _gpu() -> Check:
    gpus = await asyncio.to_thread(find_gpus)
    if not gpus:
        return Check("gpu", "skip", "no NVIDIA GPU found (needed only to serve on this machine)")
    names = ", ".join(
        f"{gpu.name} ({'full FP8' if gpu.full_fp8 else 'FP8 weights, 16-bit activations'})"
        for gpu in gpus
    )
    return Check("gpu", "ok", names)


def _portaudio() -> Check:
    try:
        importlib.import_module("sounddevice")
    except OSError as error:
        return Check(
            "portaudio",
            "fail",
            f"the PortAudio library is missing ({error})",
            "install it: apt-get install libportaudio2 (Debian/Ubuntu), brew install portaudio "
            "(macOS)",
        )
    except ImportError:
        return Check(
            "portaudio",
            "fail",
            "the sounddevice package is missing",
            "pip install 'voxtral-agent[mic]'",
        )
    return Check("portaudio", "ok", "sounddevice and PortAudio load")


async def _microphone(device: str | None) -> Check:
    choice = parse_device(device)
    try:
        devices = await asyncio.to_thread(input_devices)
    except AudioDeviceError as error:
        return Check("microphone", "fail", str(error), "see `voxagent devices`")
    if not devices:
        return Check(
            "microphone",
            "fail",
            "no input device found",
            "plug in a microphone or start PulseAudio/PipeWire; without one, use "
            "`voxagent run --replay FILE`",
        )
    mic = Microphone(choice, start_timeout_s=5.0, watchdog_s=2.0)
    levels: list[float] = []
    try:
        async with asyncio.timeout(4.0):
            async for frame in mic:
                levels.append(level_dbfs(frame))
                if len(levels) >= 25:  # 0.75 s
                    break
    except AudioDeviceError as error:
        return Check(
            "microphone", "fail", str(error), "pick another with --device (see `voxagent devices`)"
        )
    except TimeoutError:
        return Check(
            "microphone",
            "fail",
            "no audio within 4 s",
            "check that the device is not muted or busy",
        )
    finally:
        await mic.aclose()
    name = mic.device_name or str(choice or "default")
    peak = max(levels) if levels else -100.0
    if peak <= -90.0:
        return Check(
            "microphone",
            "warn",
            f"{name}: opens, but records digital silence",
            "unmute it or raise its input volume",
        )
    return Check("microphone", "ok", f"{name}: records (loudest {peak:.0f} dBFS in 0.75 s)")


async def _server(args: argparse.Namespace) -> tuple[ServerInfo | None, list[Check]]:
    """Reachable, which model, tool calling: the checks `check_server` makes, one by one."""
    needs = [
        Check("model", "skip", "needs the server"),
        Check("tool calling", "skip", "needs the server"),
    ]
    try:
        info = await check_server(args.base_url, args.model, tool_calling=False)
    except CliError as error:
        return None, [Check("server", "fail", error.message), *needs]
    checks = [Check("server", "ok", f"vLLM answers at {info.base_url}")]
    length = info.max_model_len
    model_detail = f"{info.model} (context {length or '?'} tokens)"
    if length is not None and length < 8192:
        checks.append(
            Check(
                "model",
                "warn",
                f"{model_detail}: short for a conversation with tools",
                "start vLLM with --max-model-len 32768 (voxagent serve does)",
            )
        )
    else:
        checks.append(Check("model", "ok", model_detail))
    try:
        info = await check_server(args.base_url, info.model, tool_calling=True)
    except CliError as error:
        checks.append(Check("tool calling", "fail", error.message))
        return None, checks
    checks.append(Check("tool calling", "ok", "enabled (auto tool choice, mistral parser)"))
    return info, checks


async def _round_trip(args: argparse.Namespace, info: ServerInfo) -> Check:
    clip = np.concatenate([silence(0.3), tone(1.0, frequency=330.0), silence(0.3)])
    async with agent_for(
        info, timeout=args.timeout, transcribe_turns=False, max_retries=0
    ) as agent:
        started = time.perf_counter()
        turn = await agent.run(clip, text="Reply with one word: OK.")
        chat = time.perf_counter() - started
        started = time.perf_counter()
        await agent.transcribe(clip)
        transcription = time.perf_counter() - started
    return Check(
        "round trip",
        "ok",
        f"a 1.6 s clip: chat reply in {chat:.2f} s ({turn.usage.prompt_tokens} prompt "
        f"tokens), transcription in {transcription:.2f} s",
    )


async def _guarded_check(work: Awaitable[Check], name: str) -> Check:
    try:
        return await work
    except VoxagentError as error:
        return Check(name, "fail", one_line(str(error)), "look at the server's log")
