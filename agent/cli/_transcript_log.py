"""`--log FILE`: every turn appended to a JSONL transcript, one JSON object per line."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.cli._exit import CliError, ExitCode
from agent.events import AgentEvent, TurnFailed, TurnFinished
from agent.turn import Turn

__all__ = ["TranscriptLog"]


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

    async def record(self, event: AgentEvent, source: str | None = None) -> None:
        """Log the event if it ends a turn (finished or failed); ignore the others."""
        if isinstance(event, TurnFinished):
            await self.turn(event.turn, source=source)
        elif isinstance(event, TurnFailed):
            start = event.utterance.start if event.utterance else None
            await self.failure(event.error, source=source, at=start)

    async def turn(self, turn: Turn, source: str | None = None) -> None:
        """Log a finished turn."""
        await self._append({"event": "turn", "source": source, **turn.to_dict()})

    async def failure(
        self, error: BaseException, source: str | None = None, at: float | None = None
    ) -> None:
        """Log a turn that failed (the utterance's place in the audio, when known)."""
        await self._append(
            {
                "event": "turn_failed",
                "source": source,
                "utterance_start": at,
                "error": f"{type(error).__name__}: {error}",
            }
        )

    async def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(
            {"time": datetime.now().astimezone().isoformat(timespec="milliseconds"), **record},
            ensure_ascii=False,
            default=repr,
        )
        async with self._lock:
            await asyncio.to_thread(self._write, line)

    def _write(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")
