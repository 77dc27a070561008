"""What the commands share: the toolbox and options checked up front, the agent, the audio."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from agent.agent import Agent, ToolChoice
from agent.audio import AudioSource, Endpointer, Microphone, VadMode, WavSource, input_devices
from agent.cli._console import LiveConsole
from agent.cli._exit import CliError, ExitCode
from agent.cli._tools_loader import load_tools
from agent.cli._transcript_log import TranscriptLog
from agent.client import ServerInfo
from agent.errors import AudioDeviceError, BadAudioError, VoxagentError
from agent.events import EventHandler
from agent.turn import Turn
from tools import Toolbox
from tools.builtin import TimerService, default_tools

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "AgentKit",
    "TurnsWithToolChoice",
    "agent_for",
    "make_endpointer",
    "open_recording",
    "open_source",
    "parse_device",
    "prepare_agent",
]

DEFAULT_INSTRUCTIONS = (
    "You are a voice assistant on the user's computer. Answer briefly, in the language the "
    "user speaks, as your words may be read aloud. Use the tools whenever they help (for the "
    "time, timers, sums, notes, this computer) and say what you did."
)


@dataclass(frozen=True, slots=True)
class AgentKit:
    """What `run` and `replay` check before contacting a server: the tools (`--tools`, else the
    built-in ones on `timers`), `--tool-choice` and `--log`."""

    toolbox: Toolbox
    timers: TimerService
    tool_choice: ToolChoice
    log: TranscriptLog | None

    @contextlib.asynccontextmanager
    async def running(
        self, args: argparse.Namespace, info: ServerInfo, console: LiveConsole
    ) -> AsyncIterator[TurnsWithToolChoice]:
        """The agent for a checked server, with `console` asking for approvals (unless the
        toolbox has its own approver) and announcing timers; on the way out the pending
        timers are cancelled and the agent is closed."""
        if self.toolbox.approve is None:
            self.toolbox.approve = console.approve
        self.timers.add_listener(console.timer_rang)
        agent = agent_for(
            info,
            timeout=args.timeout,
            tools=self.toolbox,
            instructions=args.instructions or DEFAULT_INSTRUCTIONS,
        )
        try:
            yield TurnsWithToolChoice(agent, self.tool_choice)
        finally:
            self.timers.cancel_all()
            await agent.aclose()


def prepare_agent(args: argparse.Namespace) -> AgentKit:
    """Load the tools and check the options at once (a bad one is a `CliError`)."""
    timers = TimerService()
    if args.tools:
        box = load_tools(args.tools)
    else:
        box = Toolbox(default_tools(notes=args.notes_db, timers=timers))
    known = ("auto", "none", "required", *box.names)
    if args.tool_choice not in known:
        raise CliError(
            f"--tool-choice {args.tool_choice}: use auto, none, required or a tool name "
            f"({', '.join(box.names) or 'no tools'})",
            ExitCode.USAGE,
        )
    log = TranscriptLog(args.log) if args.log else None
    return AgentKit(box, timers, args.tool_choice, log)


def agent_for(info: ServerInfo, *, timeout: float, **options: Any) -> Agent:
    """An `Agent` for a checked server (its model and context length are known already)."""
    return Agent(
        base_url=info.base_url,
        model=info.model,
        max_model_len=info.max_model_len,
        timeout=timeout,
        **options,
    )


def make_endpointer(vad: VadMode) -> Endpointer:
    """The endpointer with the `--vad` detector; `CliError` if Silero cannot run here."""
    try:
        return Endpointer(vad=vad)
    except VoxagentError as error:
        raise CliError(f"--vad {vad}: {error}", ExitCode.NOT_INSTALLED) from None


def open_recording(path: str, *, realtime: bool) -> WavSource:
    """A recording as a source; `CliError` (bad input) if it cannot be read."""
    try:
        return WavSource(path, realtime=realtime)
    except BadAudioError as error:
        raise CliError(str(error), ExitCode.BAD_INPUT) from None
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}", ExitCode.BAD_INPUT) from None


def open_source(args: argparse.Namespace) -> AudioSource:
    """`--replay FILE` at real time (or `--fast`), else the microphone `--device`.

    The microphone is looked up now, so a missing one fails before a server is started.
    """
    if args.replay:
        return open_recording(args.replay, realtime=not args.fast)
    device = parse_device(args.device)
    _check_device(device)
    return Microphone(device)


def parse_device(text: str | None) -> int | str | None:
    """`--device`: a number is a device index; other text is part of a device's name."""
    return int(text) if text is not None and text.strip().isdigit() else text


def _check_device(device: int | str | None) -> None:
    try:
        devices = input_devices()
    except AudioDeviceError as error:
        raise CliError(str(error), ExitCode.AUDIO_DEVICE) from None
    if not devices:
        raise CliError(
            "no audio input device found: plug in a microphone (or start PulseAudio/PipeWire), "
            "or use --replay FILE",
            ExitCode.AUDIO_DEVICE,
        )
    if device is None:
        return
    if isinstance(device, int):
        found = any(entry.index == device for entry in devices)
    else:
        found = any(device.lower() in entry.name.lower() for entry in devices)
    if not found:
        names = "; ".join(f"{entry.index}: {entry.name}" for entry in devices)
        raise CliError(
            f"no input device {device!r}; the input devices are {names} (`voxagent devices`)",
            ExitCode.AUDIO_DEVICE,
        )


class TurnsWithToolChoice:
    """An agent whose spoken turns all start with `tool_choice` (`--tool-choice`).

    `listen` runs turns as ``agent.run(audio, ...)``; this passes the choice along, so
    ``required`` (or a tool name) makes the first model call of every turn call a tool.
    """

    def __init__(self, agent: Agent, tool_choice: ToolChoice) -> None:
        self.agent = agent
        self.tool_choice = tool_choice

    async def run(
        self,
        audio: Any = None,
        *,
        sample_rate: int | None = None,
        on_event: EventHandler | None = None,
    ) -> Turn:
        """`Agent.run` with the tool choice."""
        return await self.agent.run(
            audio, sample_rate=sample_rate, tool_choice=self.tool_choice, on_event=on_event
        )
