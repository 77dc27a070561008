"""`voxagent replay FILE...`: recordings through the agent, one turn per utterance."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from agent.cli._agent_setup import make_endpointer, open_recording, prepare_agent
from agent.cli._console import LiveConsole
from agent.cli._exit import CliError, ExitCode, as_cli_error
from agent.cli._server import check_server
from agent.cli._speech_commands import open_speech
from agent.cli._transcript_log import TranscriptLog, TurnRecords
from agent.cli._turn_start import open_wake_word, wake_options
from agent.errors import BadAudioError
from agent.events import AgentEvent, TurnFailed, TurnFinished
from agent.listening import replay_async

__all__ = ["replay_command"]


async def replay_command(args: argparse.Namespace) -> ExitCode:
    """Replay each file (in order, one conversation) and print its turns, or JSON lines."""
    if args.speak_to and len(args.files) > 1:
        raise CliError(
            "--speak-to writes one file on one recording's timeline: replay one file at a time",
            ExitCode.USAGE,
        )
    for path in args.files:  # fail before anything is sent
        await open_recording(path, realtime=False)
    endpointer = make_endpointer(args.vad, args.turn_detector)
    wake = open_wake_word(args)
    kit = prepare_agent(args)
    info = await check_server(args.base_url, args.model, tool_calling=True)
    console = Console(highlight=False, soft_wrap=True, stderr=args.json)
    lines = LiveConsole(
        console,
        title="",
        auto_approve=args.yes,
        live=False,
        wake_word=wake.phrase if wake is not None else None,
    )
    failures = 0
    speech = open_speech(args, from_microphone=False, default_voice="none")
    async with kit.running(args, info, lines) as runner, speech as speaking:
        for note in speaking.notes:
            print(f"voxagent: {note}", file=sys.stderr)
        for path in args.files:
            if not args.json:
                console.print(f"[bold]{escape(path)}[/]")
            printer = _TurnPrinter(path, args.json, lines, kit.log, runner.transcribe_turns)
            try:
                await replay_async(
                    runner,
                    path,
                    endpointer=endpointer,
                    on_event=printer.event,
                    raise_on_error=False,
                    voice=speaking.voice,
                    speaker=speaking.speaker,
                    barge_in=speaking.barge_in,
                    speculate=args.speculate,
                    **wake_options(args, wake),
                )
            except BadAudioError as error:
                raise as_cli_error(error) from None
            await printer.finish()
            if printer.turns == 0:
                nothing = f"no turn (was {wake.phrase!r} said?)" if wake else "no speech found"
                print(f"voxagent: {path}: {nothing}", file=sys.stderr)
            failures += printer.failures
    return ExitCode.FAILURE if failures else ExitCode.OK


class _TurnPrinter:
    """Prints one file's turns (lines, or one JSON object per turn) and logs them."""

    def __init__(
        self,
        path: str,
        as_json: bool,
        lines: LiveConsole,
        log: TranscriptLog | None,
        expect_transcripts: bool,
    ) -> None:
        self.as_json = as_json
        self.lines = lines
        self.log = log
        self.turns = 0
        self.failures = 0
        self._records = TurnRecords(path, expect_transcripts=expect_transcripts)

    async def event(self, event: AgentEvent) -> None:
        if isinstance(event, TurnFinished | TurnFailed):
            self.turns += 1
        if isinstance(event, TurnFailed):
            self.failures += 1
        if not self.as_json:
            self.lines.show(event)
        await self.write(self._records.record(event))

    async def write(self, records: list[dict[str, Any]]) -> None:
        """Print (as JSON) and log the finished turns' records."""
        for record in records:
            if self.as_json:
                print(json.dumps(record, ensure_ascii=False, default=repr), flush=True)
            if self.log is not None:
                await self.log.append(record)

    async def finish(self) -> None:
        """The file is done: the records still waiting for a transcript go out as they are."""
        await self.write(self._records.flush())
