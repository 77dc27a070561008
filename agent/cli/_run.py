"""`voxagent run`: the desktop assistant, with its live console."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape

from agent.audio import AudioSource, Endpointer
from agent.cli._agent_setup import (
    TurnsWithToolChoice,
    make_agent,
    make_endpointer,
    make_toolbox,
    open_source,
)
from agent.cli._console import LiveConsole
from agent.cli._exit import CliError, ExitCode
from agent.cli._serve import serve_options, start_server, stop_server
from agent.cli._server import check_server
from agent.cli._transcript_log import TranscriptLog
from agent.cli._vllm import server_healthy
from agent.client import ServerInfo
from agent.errors import AudioDeviceError, BadAudioError
from agent.listening import listen
from tools.builtin import TimerService

__all__ = ["run_command"]


async def run_command(args: argparse.Namespace) -> ExitCode:
    """Check the server (starting it with --serve), then listen and act until Ctrl-C."""
    # Bad input fails before any server is contacted (or started: that takes minutes).
    setup = _Setup(
        source=open_source(args),
        endpointer=make_endpointer(args.vad),
        log=TranscriptLog(args.log) if args.log else None,
    )
    console = Console(highlight=False, soft_wrap=True)
    async with _server(args, Console(stderr=True, highlight=False, soft_wrap=True)) as base_url:
        info = await check_server(base_url, args.model, tool_calling=True, timeout=10.0)
        return await _converse(args, info, setup, console)


@dataclass(frozen=True, slots=True)
class _Setup:
    source: AudioSource
    endpointer: Endpointer
    log: TranscriptLog | None


@contextlib.asynccontextmanager
async def _server(args: argparse.Namespace, console: Console) -> AsyncIterator[str]:
    """The base URL to use; with --serve, a vLLM started here (reused if one already runs)."""
    if not args.serve:
        yield args.base_url
        return
    options = serve_options(args, args.base_url)
    if await server_healthy(options.base_url):
        console.print(f"using the vLLM server already running at {options.base_url}")
        yield options.base_url
        return
    process = await start_server(args, options, console)
    try:
        yield options.base_url
    finally:
        await stop_server(process, console)


async def _converse(
    args: argparse.Namespace, info: ServerInfo, setup: _Setup, console: Console
) -> ExitCode:
    log = setup.log
    title = f"voxagent · {info.model} @ {info.base_url}"
    timers = TimerService()
    live = LiveConsole(console, title=title, auto_approve=args.yes, timers=timers)
    timers.add_listener(live.timer_rang)
    agent = make_agent(args, make_toolbox(args, live.approve, timers), info)
    where = f"replaying {args.replay}" if args.replay else f"microphone {args.device or 'default'}"
    console.print(
        f"[bold]voxagent[/] · model [bold]{escape(info.model)}[/] at {escape(info.base_url)}"
        f" (context {info.max_model_len or '?'} tokens, tool calling on) · "
        f"{len(agent.toolbox)} tools · {escape(where)}"
        + (f" · log {escape(args.log)}" if args.log else "")
    )
    name = args.replay or "microphone"
    runner = TurnsWithToolChoice(agent, args.tool_choice)
    try:
        with live:
            events = listen(runner, setup.source, endpointer=setup.endpointer, on_frame=live.level)
            async with contextlib.aclosing(events):
                async for event in events:
                    live.show(event)
                    if log is not None:
                        await log.record(event, source=name)
    except AudioDeviceError as error:
        raise CliError(str(error), ExitCode.AUDIO_DEVICE) from None
    except BadAudioError as error:
        raise CliError(str(error), ExitCode.BAD_INPUT) from None
    finally:
        pending = timers.pending()
        timers.cancel_all()
        await agent.aclose()
    if pending:
        labels = ", ".join(timer.label or timer.kind for timer in pending)
        console.print(f"[dim]cancelled {len(pending)} pending timer(s): {escape(labels)}[/]")
    console.print(
        f"[dim]end of {escape(name)}: {live.turns} turn(s) answered, {live.failures} failed[/]"
    )
    return ExitCode.FAILURE if live.failures else ExitCode.OK
