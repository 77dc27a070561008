"""A turn as one JSON object (`turn_record`: what `replay --json` prints and `--log` appends),
and `--log FILE`: every turn appended to a JSONL transcript."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.audio import Utterance
from agent.cli._exit import CliError, ExitCode
from agent.events import AgentEvent, TurnFailed, TurnFinished, TurnStarted
from tools._threads import run_blocking

__all__ = ["TranscriptLog", "TurnRecords", "turn_record"]


def turn_record(
    event: TurnFinished | TurnFailed, *, source: str | None, utterance: Utterance | None
) -> dict[str, Any]:
    """The one JSON form of a finished or failed turn: where its speech was in the source
    (`utterance`: start and end in seconds, or None for text), then the turn or the error."""
    heard = event.utterance if isinstance(event, TurnFailed) and event.utterance else utterance
    where = (
        {"start": round(heard.start, 3), "end": round(heard.end, 3)} if heard is not None else None
    )
    record: dict[str, Any] = {"source": source, "utterance": where}
    if isinstance(event, TurnFailed):
        return {
            "event": "turn_failed",
            **record,
            "ok": False,
            "error": f"{type(event.error).__name__}: {event.error}",
        }
    return {"event": "turn", **record, "ok": True, **event.turn.to_dict()}


class TurnRecords:
    """Follows one source's events and makes the record of each turn that ends (the
    utterance comes with `TurnStarted`, the turn with `TurnFinished`)."""

    def __init__(self, source: str | None) -> None:
        self.source = source
        self._utterance: Utterance | None = None

    def record(self, event: AgentEvent) -> dict[str, Any] | None:
        """The record if `event` ends a turn, else None."""
        if isinstance(event, TurnStarted):
            self._utterance = event.utterance
        if not isinstance(event, TurnFinished | TurnFailed):
            return None
        return turn_record(event, source=self.source, utterance=self._utterance)


class TranscriptLog:
    """Appends turns (and failed turns) to a JSONL file; writes happen off the event loop."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError as error:
            raise CliError(
                f"--log {path}: cannot write there ({error.strerror})", ExitCode.BAD_INPUT
            ) from None
        self._lock = asyncio.Lock()

    async def append(self, record: dict[str, Any]) -> None:
        """Append one record (with the time it was written)."""
        line = json.dumps(
            {"time": datetime.now().astimezone().isoformat(timespec="milliseconds"), **record},
            ensure_ascii=False,
            default=repr,
        )
        async with self._lock:
            await run_blocking(lambda: self._write(line))

    def _write(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")
