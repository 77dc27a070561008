"""`voxagent replay FILE...`: recordings through the agent, one turn per utterance."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.markup import escape

from agent.audio import Utterance
from agent.cli._agent_setup import make_endpointer, open_recording, prepare_agent
from agent.cli._console import LiveConsole
from agent.cli._exit import CliError, ExitCode
from agent.cli._server import check_server
from agent.cli._transcript_log import TranscriptLog
from agent.errors import BadAudioError
from agent.events import AgentEvent, TurnFailed, TurnFinished, TurnStarted
from agent.listening import replay_async

__all__ = ["replay_command"]


async def replay_command(args: argparse.Namespace) -> ExitCode:
    """Replay each file (in order, one conversation) and print its turns, or JSON lines."""
    for path in args.files:  # fail before anything is sent
        open_recording(path, realtime=False)
    endpointer = make_endpointer(args.vad)
    kit = prepare_agent(args)
    info = await check_server(args.base_url, args.model, tool_calling=True)
    console = Console(highlight=False, soft_wrap=True, stderr=args.json)
    lines = LiveConsole(console, title="", auto_approve=args.yes, live=False)
    failures = 0
    async with kit.running(args, info, lines) as runner:
        for path in args.files:
            if not args.json:
                console.print(f"[bold]{escape(path)}[/]")
            printer = _TurnPrinter(path, args.json, lines, kit.log)
            try:
                await replay_async(
                    runner,
                    path,
                    endpointer=endpointer,
                    on_event=printer.event,
                    raise_on_error=False,
                )
            except BadAudioError as error:
                raise CliError(str(error), ExitCode.BAD_INPUT) from None
            if printer.turns == 0:
                print(f"voxagent: {path}: no speech found", file=sys.stderr)
            failures += printer.failures
    return ExitCode.FAILURE if failures else ExitCode.OK


class _TurnPrinter:
    """Prints one file's turns (lines, or one JSON object per turn) and logs them."""

    def __init__(
        self, path: str, as_json: bool, lines: LiveConsole, log: TranscriptLog | None
    ) -> None:
        self.path = path
        self.as_json = as_json
        self.lines = lines
        self.log = log
        self.turns = 0
        self.failures = 0
        self._utterance: Utterance | None = None

    async def event(self, event: AgentEvent) -> None:
        if isinstance(event, TurnStarted):
            self._utterance = event.utterance
        if isinstance(event, TurnFinished | TurnFailed):
            self.turns += 1
        if isinstance(event, TurnFailed):
            self.failures += 1
        if not self.as_json:
            self.lines.show(event)
        elif isinstance(event, TurnFinished | TurnFailed):
            print(json.dumps(self._record(event), ensure_ascii=False, default=repr), flush=True)
        if self.log is not None:
            await self.log.record(event, source=self.path)

    def _record(self, event: TurnFinished | TurnFailed) -> dict[str, object]:
        utterance = event.utterance if isinstance(event, TurnFailed) else self._utterance
        where = (
            {"start": round(utterance.start, 3), "end": round(utterance.end, 3)}
            if utterance is not None
            else None
        )
        if isinstance(event, TurnFailed):
            return {
                "file": self.path,
                "utterance": where,
                "ok": False,
                "error": f"{type(event.error).__name__}: {event.error}",
            }
        return {"file": self.path, "utterance": where, "ok": True, **event.turn.to_dict()}
