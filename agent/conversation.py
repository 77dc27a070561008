"""`Conversation`: the turns of one agent so far, and how the next one is run and recorded.

It owns the history, the background transcripts and the one-turn-at-a-time lock; `Agent`
owns the configuration and the server, and hands each turn here with its `TurnPlan`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from agent._transcripts import BackgroundTranscripts
from agent.backend import Backend
from agent.clips import Clip
from agent.errors import TurnTimeoutError
from agent.events import EventHandler
from agent.history import History, TurnRecord, estimate_tokens
from agent.turn import Turn
from agent.turn_loop import TurnPlan, run_turn

__all__ = ["Conversation"]


class Conversation:
    """One conversation: its history, its transcripts, one turn at a time.

    Args:
        history: the turns so far, with the instructions and the audio policy.
    """

    def __init__(self, history: History) -> None:
        self.history = history
        self.transcripts = BackgroundTranscripts()
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def lock(self) -> asyncio.Lock:
        """One turn at a time (a lock for each event loop that runs turns)."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    def render(
        self,
        record: TurnRecord | None,
        tools: list[dict[str, Any]],
        *,
        max_model_len: int | None,
        reply_reserve: int,
    ) -> list[dict[str, Any]]:
        """The messages for a request: the audio policy, then the token budget."""
        budget = None if max_model_len is None else max_model_len - reply_reserve
        fixed = estimate_tokens(json.dumps(tools)) if tools else 0
        return self.history.render(record, token_budget=budget, fixed_tokens=fixed)

    async def run_turn(
        self,
        plan: TurnPlan,
        backend: Backend,
        clips: Sequence[Clip],
        text: str | None,
        on_event: EventHandler | None,
        *,
        turn_timeout: float | None,
        transcribe: bool,
        language: str | None,
    ) -> Turn:
        """Run one turn and record it (the caller holds `lock()`); with `transcribe`, its
        audio is transcribed in the background (`language`: the hint).

        A turn that fails or is cancelled leaves the history as it was, unless tool calls
        were answered: their record is kept, marked interrupted.
        """
        record = TurnRecord(index=len(self.history), clips=list(clips), text=text)
        turn = Turn(index=record.index, user_text=text, audio_seconds=_seconds(clips))
        transcript = None
        if clips and transcribe:  # beside the turn, never in its way
            transcript = self.transcripts.start(
                backend, plan.model, language, record, turn, on_event
            )
        try:
            await _bounded(run_turn(plan, backend, record, turn, on_event), turn_timeout, turn)
        except BaseException:
            if record.has_actions:  # tools ran: the next turn must know what they did
                record.interrupted = True
                self.history.commit(record)
            elif transcript is not None:
                transcript.cancel()
            raise
        self.history.commit(record)
        return turn


async def _bounded(work: Any, seconds: float | None, turn: Turn) -> None:
    try:
        async with asyncio.timeout(seconds):
            await work
    except TimeoutError as error:
        raise TurnTimeoutError(
            f"turn {turn.index} took longer than turn_timeout={seconds:g} s (model calls and "
            "tools together); raise turn_timeout= or check the server"
        ) from error


def _seconds(clips: Sequence[Clip]) -> float:
    return sum(clip.duration for clip in clips)
