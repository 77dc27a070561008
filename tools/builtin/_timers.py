"""Timers and alarms that fire while the assistant runs, and the tools that set them.

A `TimerService` lives on the agent's event loop; when a timer is due it calls its listeners
(the console announces it, an app may speak it). Timers exist only in this process.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from tools import Tool, ToolError, tool
from tools.builtin._clock import parse_date, parse_time_of_day

__all__ = ["Timer", "TimerListener", "TimerService", "timer_tools"]

_log = logging.getLogger(__name__)

MAX_DELAY = timedelta(days=7)

TimerKind = Literal["timer", "alarm"]


@dataclass(frozen=True, slots=True)
class Timer:
    """A timer (a duration from now) or an alarm (a time of day), due at `due` (local time)."""

    id: int
    kind: TimerKind
    label: str
    due: datetime

    def seconds_left(self) -> float:
        """Seconds until it fires (0 once due)."""
        return max(0.0, (self.due - datetime.now().astimezone()).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        """The timer as the model and logs see it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "due": self.due.isoformat(timespec="seconds"),
            "seconds_left": round(self.seconds_left()),
        }


TimerListener = Callable[[Timer], Awaitable[None] | None]
"""Called when a timer fires; may be sync or async, and must not block."""


class TimerService:
    """Pending timers on the running event loop, and who to tell when one fires."""

    def __init__(self, on_fire: TimerListener | None = None) -> None:
        self._listeners: list[TimerListener] = [on_fire] if on_fire else []
        self._pending: dict[int, tuple[Timer, asyncio.TimerHandle]] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Future[None]] = set()
        self.fired: list[Timer] = []
        """Timers that have fired, oldest first."""

    def add_listener(self, listener: TimerListener) -> None:
        """Also call `listener` when a timer fires."""
        self._listeners.append(listener)

    def start_timer(self, seconds: float, label: str = "") -> Timer:
        """A timer that fires `seconds` from now; call it on the event loop."""
        if not 0 < seconds <= MAX_DELAY.total_seconds():
            raise ValueError("A timer must last more than 0 seconds and at most 7 days.")
        due = datetime.now().astimezone() + timedelta(seconds=seconds)
        return self._schedule("timer", label, due, seconds)

    def set_alarm(self, at: datetime, label: str = "") -> Timer:
        """An alarm at `at` (naive means local time); call it on the event loop."""
        due = at if at.tzinfo else at.astimezone()
        delay = (due - datetime.now().astimezone()).total_seconds()
        if delay <= 0:
            raise ValueError(f"{due.isoformat(timespec='minutes')} is in the past.")
        if delay > MAX_DELAY.total_seconds():
            raise ValueError("An alarm can be at most 7 days ahead.")
        return self._schedule("alarm", label, due, delay)

    def pending(self) -> list[Timer]:
        """Timers not yet fired, soonest first (safe to call from another thread)."""
        entries = list(self._pending.values())  # one step: the loop may change the dict meanwhile
        return sorted((timer for timer, _ in entries), key=lambda t: t.due)

    def cancel(self, timer_id: int) -> Timer:
        """Cancel a pending timer; `KeyError` if none has this id."""
        try:
            timer, handle = self._pending.pop(timer_id)
        except KeyError:
            raise KeyError(f"There is no pending timer with id {timer_id}.") from None
        handle.cancel()
        return timer

    def cancel_all(self) -> None:
        """Cancel every pending timer (on shutdown)."""
        for timer_id in list(self._pending):
            self.cancel(timer_id)

    def _schedule(self, kind: TimerKind, label: str, due: datetime, delay: float) -> Timer:
        loop = asyncio.get_running_loop()
        timer = Timer(id=next(self._ids), kind=kind, label=label.strip(), due=due)
        handle = loop.call_later(delay, self._fire, timer.id)
        self._pending[timer.id] = (timer, handle)
        return timer

    def _fire(self, timer_id: int) -> None:
        entry = self._pending.pop(timer_id, None)
        if entry is None:
            return
        timer = entry[0]
        self.fired.append(timer)
        for listener in self._listeners:
            try:
                outcome = listener(timer)
            except Exception:
                _log.exception("timer listener %r failed", listener)
                continue
            if inspect.isawaitable(outcome):
                task = asyncio.ensure_future(outcome)
                self._tasks.add(task)
                task.add_done_callback(self._listener_done)

    def _listener_done(self, task: asyncio.Future[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("timer listener failed", exc_info=task.exception())


def timer_tools(service: TimerService) -> list[Tool[..., Any]]:
    """The timer and alarm tools over `service` (in-process only: no approval needed)."""
    # Long on purpose: a factory of small tools, each a closure over the same object (its
    # docstring is the model's description); they read best side by side.

    @tool
    async def set_timer(
        hours: float = 0, minutes: float = 0, seconds: float = 0, label: str = ""
    ) -> dict[str, Any]:
        """Start a countdown timer; the user is told when it rings.

        Args:
            hours: Hours of the duration.
            minutes: Minutes of the duration.
            seconds: Seconds of the duration.
            label: What the timer is for, such as "pasta".
        """
        total = hours * 3600 + minutes * 60 + seconds
        try:
            return service.start_timer(total, label).to_dict()
        except ValueError as error:
            raise ToolError(f"{error} Give hours, minutes or seconds.") from None

    @tool
    async def set_alarm(time: str, label: str = "", date: str | None = None) -> dict[str, Any]:
        """Set an alarm at a time of day (local time); the user is told when it rings.

        Args:
            time: The time of day, 24-hour "HH:MM" such as "07:30".
            label: What the alarm is for.
            date: The day, "YYYY-MM-DD"; default: the next time this time of day comes.
        """
        try:
            clock = parse_time_of_day(time)
            now = datetime.now().astimezone()
            day = parse_date(date) if date else now.date()
            due = datetime.combine(day, clock).astimezone()
            if date is None and due <= now:
                due = datetime.combine(day + timedelta(days=1), clock).astimezone()
            return service.set_alarm(due, label).to_dict()
        except ValueError as error:
            raise ToolError(str(error)) from None

    @tool
    async def list_timers() -> list[dict[str, Any]]:
        """The pending timers and alarms, soonest first."""
        return [timer.to_dict() for timer in service.pending()]

    @tool
    async def cancel_timer(timer_id: int) -> dict[str, Any]:
        """Cancel a pending timer or alarm.

        Args:
            timer_id: The id from set_timer, set_alarm or list_timers.
        """
        try:
            return {"cancelled": service.cancel(timer_id).to_dict()}
        except KeyError as error:
            raise ToolError(str(error.args[0])) from None

    return [set_timer, set_alarm, list_timers, cancel_timer]
