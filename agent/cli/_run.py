"""`voxagent run`: the desktop assistant, with its live console."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from agent.agent import Agent
from agent.audio import AudioSource, Endpointer, WakeWord
from agent.cli._agent_setup import (
    AgentKit,
    make_endpointer,
    open_source,
    prepare_agent,
)
from agent.cli._console import LiveConsole
from agent.cli._exit import CliError, ExitCode, as_cli_error
from agent.cli._serve import prepare_start, serve_options, start_server, stop_server
from agent.cli._server import check_server
from agent.cli._speech_commands import Speech, open_speech
from agent.cli._transcript_log import TurnRecords
from agent.cli._turn_start import TALK_KEYS, TalkKey, open_wake_word, wake_options
from agent.cli._vllm import ServeOptions, server_healthy
from agent.cli._words import count
from agent.client import ServerInfo
from agent.errors import AudioDeviceError, BadAudioError
from agent.listening import listen
from agent.turn_start import PushToTalk

__all__ = ["run_command"]


async def run_command(args: argparse.Namespace) -> ExitCode:
    """Check the server (starting it with --serve), then listen and act until Ctrl-C."""
    status = Console(stderr=True, highlight=False, soft_wrap=True)
    # Everything that can fail at once does, before any server is contacted or started
    # (a start takes minutes): --serve's GPU and vLLM first, then the audio and the log.
    serving = await _plan_serving(args, status)
    wake, push_to_talk = open_wake_word(args), _push_to_talk(args)
    endpointer = make_endpointer(args.vad, args.turn_detector)
    setup = _Setup(await open_source(args), endpointer, prepare_agent(args), wake, push_to_talk)
    console = Console(highlight=False, soft_wrap=True)
    async with _server(args, serving, status) as base_url:
        info = await check_server(base_url, args.model, tool_calling=True)
        return await _converse(args, info, setup, console)


@dataclass(frozen=True, slots=True)
class _Setup:
    source: AudioSource
    endpointer: Endpointer
    kit: AgentKit
    wake: WakeWord | None = None
    talk_key: TalkKey | None = None


def _push_to_talk(args: argparse.Namespace) -> TalkKey | None:
    """--push-to-talk's key reader (checked: it needs a terminal)."""
    return TalkKey(PushToTalk()) if args.push_to_talk else None


@dataclass(frozen=True, slots=True)
class _Serving:
    """What --serve does: start vLLM with `launcher`, or reuse the server already running."""

    options: ServeOptions
    launcher: list[str] | None


async def _plan_serving(args: argparse.Namespace, console: Console) -> _Serving | None:
    """None without --serve; else the checked plan (a server already running is reused)."""
    if not args.serve:
        if args.vllm_args:
            stray = next((arg for arg in args.vllm_args if arg != "--"), "--")
            raise CliError(
                f"unexpected argument {stray!r} (extra vLLM flags need --serve, then `--`)",
                ExitCode.USAGE,
            )
        return None
    options = serve_options(args, args.base_url)
    if await server_healthy(options.base_url):
        console.print(f"using the vLLM server already running at {options.base_url}")
        return _Serving(options, None)
    return _Serving(options, await prepare_start(args, options, console))


@contextlib.asynccontextmanager
async def _server(
    args: argparse.Namespace, serving: _Serving | None, console: Console
) -> AsyncIterator[str]:
    """The base URL to use; with --serve, a vLLM started here (stopped on the way out)."""
    if serving is None:
        yield args.base_url
        return
    if serving.launcher is None:
        yield serving.options.base_url
        return
    process = await start_server(args, serving.options, serving.launcher, console)
    try:
        yield serving.options.base_url
    finally:
        await stop_server(process, console)


async def _converse(
    args: argparse.Namespace, info: ServerInfo, setup: _Setup, console: Console
) -> ExitCode:
    kit = setup.kit
    live = LiveConsole(
        console,
        title=f"voxagent · {info.model} @ {info.base_url}",
        auto_approve=args.yes,
        timers=kit.timers,
        idle_hint=_idle_hint(args, setup),
        wake_word=setup.wake.phrase if setup.wake is not None else None,
        push_to_talk=setup.talk_key.push_to_talk if setup.talk_key else None,
        talk_keys=TALK_KEYS,
    )
    live.keys = setup.talk_key
    where = f"replaying {args.replay}" if args.replay else f"microphone {args.device or 'default'}"
    name = args.replay or "microphone"
    speech = open_speech(args, from_microphone=not args.replay, default_voice=None)
    async with kit.running(args, info, live) as runner, speech as speaking:
        # after `running` started the MCP servers, so their tools are counted
        console.print(
            f"[bold]voxagent[/] · model [bold]{escape(info.model)}[/] at {escape(info.base_url)}"
            f" (context {info.max_model_len or '?'} tokens, tool calling on) · "
            f"{count(len(kit.toolbox), 'tool')} · {escape(where)}"
            + (f" · log {escape(args.log)}" if args.log else "")
        )
        _announce(Console(stderr=True, highlight=False, soft_wrap=True), speaking)
        live.speaker = speaking.speaker
        try:
            with live:
                await _show_events(runner, setup, live, name, speaking, args)
        finally:
            pending = kit.timers.pending()  # before `running` cancels them
    if pending:
        labels = ", ".join(timer.label or timer.kind for timer in pending)
        console.print(f"[dim]cancelled {count(len(pending), 'pending timer')}: {escape(labels)}[/]")
    console.print(
        f"[dim]end of {escape(name)}: {count(live.turns, 'turn')} answered, "
        f"{live.failures} failed[/]"
    )
    return ExitCode.FAILURE if live.failures else ExitCode.OK


def _idle_hint(args: argparse.Namespace, setup: _Setup) -> str:
    """What the panel says while no turn runs: the source, and how to start a turn."""
    replaying = f"replaying {Path(args.replay).name}" if args.replay else None
    if setup.wake is not None:
        how = f"say “{setup.wake.phrase}”, then the command"
    elif setup.talk_key is not None:
        how = f"{TALK_KEYS} to talk, again to send"
    else:
        return replaying or "speak when you are ready"
    return f"{replaying} · {how}" if replaying else how


def _announce(console: Console, speech: Speech) -> None:
    """One line on how the assistant speaks, and a note for each compromise."""
    if speech.voice is None:
        console.print("[dim]replies as text only (--voice to speak them)[/]")
    else:
        where = getattr(speech.speaker, "path", None) or "the speaker"
        barge = "barge-in on" if speech.barge_in else "no barge-in"
        console.print(f"[dim]speaking with {escape(speech.voice.name)} to {escape(where)} · "
                      f"{barge}[/]")  # fmt: skip
    for note in speech.notes:
        console.print(f"[yellow]! {escape(note)}[/]")


async def _show_events(
    runner: Agent,
    setup: _Setup,
    live: LiveConsole,
    name: str,
    speech: Speech,
    args: argparse.Namespace,
) -> None:
    """Listen to the source until it ends: each event shown, each turn logged (--log)."""
    records = TurnRecords(name, expect_transcripts=runner.transcribe_turns)
    keys = setup.talk_key
    events = listen(
        runner, setup.source, endpointer=setup.endpointer, on_frame=live.level,
        voice=speech.voice, speaker=speech.speaker, barge_in=speech.barge_in,
        echo=speech.echo, stream_time=bool(args.replay and args.fast),
        speculate=args.speculate,
        push_to_talk=keys.push_to_talk if keys is not None else None,
        **wake_options(args, setup.wake),
    )  # fmt: skip
    try:
        with keys.watching() if keys is not None else contextlib.nullcontext():
            async with contextlib.aclosing(events):
                async for event in events:
                    live.show(event)
                    await _log(setup, records.record(event))
        await _log(setup, records.flush())
    except (AudioDeviceError, BadAudioError) as error:
        raise as_cli_error(error) from None


async def _log(setup: _Setup, records: list[dict[str, Any]]) -> None:
    """Append the turns' records to `--log`, if it is given."""
    if setup.kit.log is not None:
        for record in records:
            await setup.kit.log.append(record)
