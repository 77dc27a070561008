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

from agent.agent import Agent
from agent.audio import Microphone, level_dbfs
from agent.cli._agent_setup import AgentKit, parse_device, prepare_agent
from agent.cli._budget import PromptBudget
from agent.cli._devices import query_input_devices
from agent.cli._exit import CliError, ExitCode, describe
from agent.cli._server import check_server
from agent.cli._vllm import VllmNotFoundError, find_gpus, find_vllm
from agent.cli._words import count
from agent.client import ServerInfo
from agent.errors import AudioDeviceError, VoxagentError
from agent.testing.audio import silence, tone
from tools._threads import run_blocking

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
    kit = prepare_agent(args)  # a bad --tools is a usage problem, not a check
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
    for check in await _audio_input(args):
        report(check)
    report(await _echo_cancellation())
    info, server_checks = await _server(args)
    for check in server_checks:
        report(check)
    for check in await _with_the_tools(args, kit, info):
        report(check)
    kit.timers.cancel_all()
    failed = [check.name for check in checks if check.outcome == "fail"]
    if failed:
        console.print(f"[red]{count(len(failed), 'problem')}: {', '.join(failed)}[/]")
        return ExitCode.FAILURE
    use = "`voxagent run --replay`" if args.no_mic else "`voxagent run`"
    console.print(f"[green]everything {use} needs works[/]")
    return ExitCode.OK


async def _with_the_tools(
    args: argparse.Namespace, kit: AgentKit, info: ServerInfo | None
) -> list[Check]:
    """The tools' share of the context, then a round trip with them (as `run` sends them)."""
    if info is None:
        return [
            Check("tools", "skip", "needs the server (its context length)"),
            Check("round trip", "skip", "needs the server"),
        ]
    async with kit.agent(args, info, transcribe_turns=False, max_retries=0) as agent:
        tools = _tools(PromptBudget.of(agent))
        if tools.outcome == "fail":
            return [tools, Check("round trip", "skip", "the tools leave no room for speech")]
        return [tools, await _guarded_check(_round_trip(agent), "round trip")]


async def _audio_input(args: argparse.Namespace) -> list[Check]:
    """PortAudio and the microphone; with --no-mic both are skipped."""
    if args.no_mic:
        reason = "--no-mic (recordings only: voxagent run --replay FILE)"
        return [Check("portaudio", "skip", reason), Check("microphone", "skip", reason)]
    portaudio = _portaudio()
    if portaudio.outcome != "ok":
        return [portaudio, Check("microphone", "skip", "needs PortAudio")]
    return [portaudio, await _microphone(args.device)]


async def _echo_cancellation() -> Check:
    """Whether the assistant's voice can be kept out of the microphone (`run --echo`)."""
    from agent.audio.echo import system_echo_cancel

    system = await run_blocking(system_echo_cancel)
    aec = importlib.util.find_spec("livekit") is not None
    if aec or system.available:
        used = " (voxagent run uses it when no --device is given)" if system.source else ""
        found = [
            *(["WebRTC echo cancellation ([aec])"] if aec else []),
            *([f"the sound server's {system.detail}{used}"] if system.available else []),
        ]
        return Check("echo cancellation", "ok", " and ".join(found))
    return Check(
        "echo cancellation", "warn", f"none ({system.detail}): barge-in needs a louder voice",
        "pip install 'voxtral-agent[aec]', or pactl load-module module-echo-cancel, or a headset",
    )  # fmt: skip


def _tools(budget: PromptBudget) -> Check:
    """The tools and instructions that every request carries, against the context."""
    if budget.fits_speech:
        return Check("tools", "ok", budget.describe())
    return Check(
        "tools",
        "fail",
        f"no room for speech in the context: {budget.describe()}",
        "give fewer tools with --tools (or shorter --instructions), or start vLLM with a "
        "larger --max-model-len (voxagent serve uses 32768)",
    )


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
    gpus = await run_blocking(find_gpus)
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
        devices = await query_input_devices()
    except CliError as error:
        return Check("microphone", "fail", error.message, "see `voxagent devices`")
    if not devices:
        return Check(
            "microphone",
            "fail",
            "no input device found",
            "plug in a microphone or start PulseAudio/PipeWire; without one, use "
            "`voxagent run --replay FILE` (and `voxagent doctor --no-mic`)",
        )
    mic = Microphone(choice, start_timeout_s=5.0, watchdog_s=2.0)
    try:
        levels = await _record_levels(mic)
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


async def _record_levels(mic: Microphone) -> list[float]:
    """The level of each of the first 25 frames (0.75 s); `TimeoutError` after 4 s."""
    levels: list[float] = []
    try:
        async with asyncio.timeout(4.0):
            async for frame in mic:
                levels.append(level_dbfs(frame))
                if len(levels) >= 25:
                    break
    finally:
        await mic.aclose()
    return levels


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


async def _round_trip(agent: Agent) -> Check:
    """A turn with the tools `run` sends (tool choice none: no tool runs), and a transcription."""
    clip = np.concatenate([silence(0.3), tone(1.0, frequency=330.0), silence(0.3)])
    started = time.perf_counter()
    turn = await agent.run(
        clip, sample_rate=16000, text="Reply with one word: OK.", tool_choice="none"
    )
    chat = time.perf_counter() - started
    started = time.perf_counter()
    await agent.transcribe(clip, sample_rate=16000)
    transcription = time.perf_counter() - started
    return Check(
        "round trip",
        "ok",
        f"a 1.6 s clip: chat reply in {chat:.2f} s with {count(len(agent.toolbox), 'tool')} "
        f"({turn.usage.prompt_tokens} prompt tokens), transcription in {transcription:.2f} s",
    )


async def _guarded_check(work: Awaitable[Check], name: str) -> Check:
    try:
        return await work
    except VoxagentError as error:
        return Check(name, "fail", describe(error), "look at the server's log")
