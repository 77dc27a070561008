"""Ready tools for a desktop assistant: clock, timers and alarms, calculator, notes, system.

    from tools.builtin import default_tools, TimerService

    timers = TimerService(on_fire=lambda timer: print("ring!", timer.label))
    agent = Agent(tools=default_tools(timers=timers))

Tools that change something outside the process (the notes file) have ``requires_approval``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools import Tool
from tools.builtin._calculator import CalculatorError, calculate, evaluate
from tools.builtin._clock import convert_time, find_timezone, get_current_time
from tools.builtin._notes import (
    Note,
    NoteNotFoundError,
    NotesStore,
    default_notes_path,
    notes_tools,
)
from tools.builtin._paths import user_data_dir
from tools.builtin._system import system_info
from tools.builtin._timers import Timer, TimerListener, TimerService, timer_tools

__all__ = [
    "CalculatorError",
    "Note",
    "NoteNotFoundError",
    "NotesStore",
    "Timer",
    "TimerListener",
    "TimerService",
    "calculate",
    "convert_time",
    "default_notes_path",
    "default_tools",
    "evaluate",
    "find_timezone",
    "get_current_time",
    "notes_tools",
    "system_info",
    "timer_tools",
    "user_data_dir",
]


def default_tools(
    *, notes: NotesStore | str | Path | None = None, timers: TimerService | None = None
) -> list[Tool[..., Any]]:
    """Every built-in tool, ready for ``Agent(tools=...)`` or ``Toolbox(...)``.

    Args:
        notes: Where notes are kept: a `NotesStore`, or a path to its SQLite file
            (default: `default_notes_path()`, in the user's data folder).
        timers: The service that runs timers and alarms; pass your own to hear them fire
            (``TimerService(on_fire=...)``). Default: a new one that nobody listens to.
    """
    store = notes if isinstance(notes, NotesStore) else NotesStore(notes)
    return [
        get_current_time,
        convert_time,
        calculate,
        system_info,
        *timer_tools(timers if timers is not None else TimerService()),
        *notes_tools(store),
    ]
