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
from agent.events import AgentEvent, TurnFailed, TurnFinished, TurnStarted, TurnTranscribed
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
    utterance comes with `TurnStarted`, the turn with `TurnFinished`).

    A spoken turn's transcript is made beside it and may come after it: with
    `expect_transcripts`, such a turn's record waits for its `TurnTranscribed` (or for
    `flush()`), so every record carries its transcript and the records stay in turn order.
    """

    def __init__(self, source: str | None, *, expect_transcripts: bool = True) -> None:
        self.source = source
        self.expect_transcripts = expect_transcripts
        self._utterance: Utterance | None = None
        # The records not written yet, in turn order: (turn index, record, complete?).
        self._waiting: list[tuple[int | None, dict[str, Any], bool]] = []
        self._transcripts: dict[int, str | None] = {}

    def record(self, event: AgentEvent) -> list[dict[str, Any]]:
        """The records that are complete once `event` has happened, in turn order."""
        if isinstance(event, TurnStarted):
            self._utterance = event.utterance
        elif isinstance(event, TurnTranscribed):
            self._transcripts[event.index] = event.transcript
            self._waiting = [
                (index, {**made, "transcript": event.transcript}, True)
                if index == event.index else (index, made, complete)
                for index, made, complete in self._waiting
            ]  # fmt: skip
        elif isinstance(event, TurnFinished | TurnFailed):
            made = turn_record(event, source=self.source, utterance=self._utterance)
            index = event.turn.index if isinstance(event, TurnFinished) else None
            spoken = isinstance(event, TurnFinished) and event.turn.audio_seconds > 0
            waits = spoken and self.expect_transcripts and index not in self._transcripts
            if index in self._transcripts:  # it came first
                made["transcript"] = self._transcripts[index]
            self._waiting.append((index, made, not waits))
        return self._ready()

    def flush(self) -> list[dict[str, Any]]:
        """Every record not written yet (at the end of the source), as it is."""
        waiting = [made for _, made, _ in self._waiting]
        self._waiting.clear()
        return waiting

    def _ready(self) -> list[dict[str, Any]]:
        """The waiting records from the oldest on, as long as they are complete."""
        ready: list[dict[str, Any]] = []
        while self._waiting and self._waiting[0][2]:
            ready.append(self._waiting.pop(0)[1])
        return ready


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
