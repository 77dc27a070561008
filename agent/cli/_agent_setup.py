"""What the commands share: the toolbox and options checked up front, the agent, the audio.

`agent_for` is the one way the commands (and, through `agent.cli.checked_agent`, the
examples) build an `Agent` once `check_server` has checked the server.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from agent.agent import Agent, ToolChoice
from agent.audio import (
    AudioSource,
    Endpointer,
    InputDevice,
    Microphone,
    TurnDetectorName,
    VadMode,
    WavSource,
)
from agent.audio.extras import MissingExtraError
from agent.cli._budget import check_context
from agent.cli._console import LiveConsole
from agent.cli._devices import NO_DEVICE, query_input_devices
from agent.cli._exit import CliError, ExitCode, as_cli_error
from agent.cli._tools_loader import add_mcp_servers, load_tools
from agent.cli._transcript_log import TranscriptLog
from agent.client import ServerInfo
from agent.errors import BadAudioError
from agent.tool_choice import resolve_tool_choice
from tools import Approver, Tool, Toolbox
from tools._threads import run_blocking
from tools.builtin import TimerService, default_tools

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "SILERO_INSTALL",
    "AgentKit",
    "agent_for",
    "check_context",
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
SILERO_INSTALL = "pip install 'voxtral-agent[silero]' and pip install --no-deps silero-vad"
TURN_INSTALL = "pip install 'voxtral-agent[turn]' and pip install --no-deps pipecat-ai"
"""How a command-line user installs what `--vad silero` needs."""


@dataclass(frozen=True, slots=True)
class AgentKit:
    """What `run` and `replay` check before contacting a server: the tools (`--tools`, else the
    built-in ones on `timers`), `--tool-choice` and `--log`."""

    toolbox: Toolbox
    timers: TimerService
    tool_choice: ToolChoice
    log: TranscriptLog | None

    def agent(self, args: argparse.Namespace, info: ServerInfo, **options: Any) -> Agent:
        """The agent `run`, `replay` and `doctor` use for a checked server (`options` go to
        `Agent`)."""
        return agent_for(
            info,
            timeout=args.timeout,
            tools=self.toolbox,
            tool_choice=self.tool_choice,
            instructions=args.instructions or DEFAULT_INSTRUCTIONS,
            **options,
        )

    @contextlib.asynccontextmanager
    async def running(
        self, args: argparse.Namespace, info: ServerInfo, console: LiveConsole
    ) -> AsyncIterator[Agent]:
        """The agent for a checked server, with `console` asking for approvals (unless the
        toolbox has its own approver) and announcing timers; on the way out the pending
        timers are cancelled and the agent is closed.

        Raises:
            CliError: the tools and instructions leave the server's context no room for speech.
        """
        await _start_servers(self.toolbox, args, info)
        agent = self.agent(args, info)
        try:
            check_context(agent)
        except BaseException:
            await agent.aclose()
            raise
        if self.toolbox.approve is None:
            self.toolbox.approve = _naming_the_server(console)
        self.timers.add_listener(console.timer_rang)
        try:
            yield agent
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
    add_mcp_servers(
        box, getattr(args, "mcp", None) or [], quiet=not getattr(args, "verbose", False)
    )
    if not box.servers:  # else once they have listed their tools (`AgentKit.running`)
        _check_tool_choice(args.tool_choice, box)
    log = TranscriptLog(args.log) if args.log else None
    return AgentKit(box, timers, args.tool_choice, log)


def _check_tool_choice(choice: ToolChoice, box: Toolbox) -> None:
    try:
        resolve_tool_choice(choice, box.names)
    except ValueError:
        raise CliError(
            f"--tool-choice {choice}: use auto, none, required or a tool name "
            f"({', '.join(box.names) or 'no tools'})",
            ExitCode.USAGE,
        ) from None


async def _start_servers(box: Toolbox, args: argparse.Namespace, info: ServerInfo) -> None:
    """Connect the `--mcp` servers and list their tools; then `--tool-choice` can be checked."""
    if not box.servers:
        return
    await box.start(max_model_len=info.max_model_len)
    for server in box.servers:
        if not server.connected:
            logging.getLogger("voxagent").warning(
                "MCP server %s did not answer (%s); its tools come when it does",
                server.name, server.error,
            )  # fmt: skip
    try:
        _check_tool_choice(args.tool_choice, box)
    except CliError:
        await box.aclose()
        raise


def _naming_the_server(console: LiveConsole) -> Approver:
    """The console's approver, asking about an MCP tool with its server's name."""

    async def approve(name: str, arguments: dict[str, Any], tool: Tool[..., Any]) -> bool:
        shown = f"mcp:{tool.source}/{name}" if tool.source else name
        return await console.approve(shown, arguments)

    return approve


def agent_for(info: ServerInfo, *, timeout: float, **options: Any) -> Agent:
    """An `Agent` for a checked server (its model and context length are known already).

    Its turns get the library's retries (`Agent`'s defaults: up to 5 attempts with backoff);
    the server check before it made one attempt (`check_server`): see the README's CLI
    section for why.
    """
    return Agent(
        base_url=info.base_url,
        model=info.model,
        max_model_len=info.max_model_len,
        timeout=timeout,
        **options,
    )


def make_endpointer(vad: VadMode, turn_detector: TurnDetectorName = "silence") -> Endpointer:
    """The endpointer with the `--vad` detector and the `--turn-detector`; `CliError` if Silero
    or Smart Turn cannot run here, saying how a command-line user installs it (the library's
    message speaks to programmers)."""
    try:
        endpointer = Endpointer(vad=vad, turn_detector=turn_detector)
    except MissingExtraError as error:
        if error.extra == "turn":
            raise CliError(
                f"--turn-detector smart-turn: Smart Turn cannot run here: install it with "
                f"{TURN_INSTALL}; or use --turn-detector silence",
                ExitCode.NOT_INSTALLED,
            ) from None
        missing = str(error).split(" is not installed", 1)[0].split(" (", 1)[0]
        raise CliError(
            f"--vad {vad}: Silero VAD cannot run here, {missing} is missing: install it with "
            f"{SILERO_INSTALL}; or use --vad webrtc",
            ExitCode.NOT_INSTALLED,
        ) from None
    return endpointer


async def open_recording(path: str, *, realtime: bool) -> WavSource:
    """A recording as a source (its header read in a worker thread); `CliError` (bad input)
    if it cannot be read."""
    try:
        return await run_blocking(lambda: WavSource(path, realtime=realtime))
    except BadAudioError as error:
        raise as_cli_error(error) from None
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}", ExitCode.BAD_INPUT) from None


async def open_source(args: argparse.Namespace) -> AudioSource:
    """`--replay FILE` at real time (or `--fast`), else the microphone `--device`.

    The microphone is looked up now (off the event loop), so a missing one fails before a
    server is started.
    """
    if args.replay:
        return await open_recording(args.replay, realtime=not args.fast)
    device = parse_device(args.device)
    _check_device(device, await query_input_devices())
    return Microphone(device)


def parse_device(text: str | None) -> int | str | None:
    """`--device`: a number is a device index; other text is part of a device's name."""
    return int(text) if text is not None and text.strip().isdigit() else text


def _check_device(device: int | str | None, devices: list[InputDevice]) -> None:
    if not devices:
        raise CliError(f"{NO_DEVICE}, or use --replay FILE", ExitCode.AUDIO_DEVICE)
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
