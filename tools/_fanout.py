"""The fan-out of several tool calls at once, with started/finished hooks (`Toolbox.call_many`).

Each call is dispatched in a task of its own, right after its ``on_started`` hook; its
``on_finished`` hook runs in that task as soon as it ends. The tasks are shielded from the
caller: cancelling the caller starts no further call, and waits for those already dispatched
(so their side effects are reported, not forgotten) before the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, TypeAlias

from tools._calls import Arguments, parse_arguments
from tools._printing import log_failure
from tools._result import ToolResult

__all__ = [
    "BEGUN",
    "ToolBegun",
    "ToolFinishedHook",
    "ToolStartedHook",
    "fan_out",
    "is_cancelling",
]

logger = logging.getLogger("tools")

ToolStartedHook: TypeAlias = Callable[[str, str, dict[str, Any]], Awaitable[None] | None]
"""``on_started(call_id, name, arguments)``, sync or async: a call is about to be dispatched.

``name`` is the name the model gave; ``arguments`` are parsed as the toolbox reads them
(``{}`` when they are not a JSON object)."""

ToolFinishedHook: TypeAlias = Callable[[ToolResult], Awaitable[None] | None]
"""``on_finished(result)``, sync or async: a call has finished (successfully or not)."""

CallOne: TypeAlias = Callable[[str, Arguments, str], Awaitable[ToolResult]]
"""Runs one call ``(name, arguments, call_id)`` to its result (`Toolbox.call`)."""

_stragglers: set[asyncio.Task[ToolResult]] = set()
"""Calls still running after their caller stopped waiting: held so they are not collected."""


async def fan_out(
    call_one: CallOne,
    specs: Sequence[tuple[str, Arguments, str]],
    on_started: ToolStartedHook | None,
    on_finished: ToolFinishedHook | None,
) -> list[ToolResult]:
    """Run every call of ``specs`` concurrently; one result each, in the order of ``specs``.

    Cancelled, it dispatches no further call, stops the dispatched calls whose tool has not
    begun (still validating or waiting for approval: nothing happened yet), and waits for the
    tools already running to finish (their ``on_finished`` hooks run) before it raises
    `asyncio.CancelledError`; cancelled again while it waits, it stops waiting (those calls
    still run to their end).
    """
    dispatched: list[tuple[asyncio.Task[ToolResult], ToolBegun]] = []
    try:
        for name, arguments, call_id in specs:
            parsed = parse_arguments(arguments)
            shown = parsed if isinstance(parsed, dict) else {}
            await notify(on_started, "on_started", call_id, name, shown)
            begun = ToolBegun()
            run = _report(call_one, name, arguments, call_id, on_finished, begun)
            task = asyncio.create_task(run, name=f"tool call {name} {call_id}")
            dispatched.append((task, begun))
        return list(await asyncio.shield(asyncio.gather(*(task for task, _ in dispatched))))
    except asyncio.CancelledError:
        for task, begun in dispatched:
            if not begun.is_set():
                task.cancel()  # an approval prompt, say: the user is gone, nothing ran
        tasks = [task for task, _ in dispatched]
        _hold(tasks)
        if tasks:
            await asyncio.wait(tasks)  # a second cancellation stops this wait
        raise


class ToolBegun:
    """Set when a call's tool function is about to run (its side effects may begin)."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        """The tool begins now."""
        self._set = True

    def is_set(self) -> bool:
        """Whether the tool has begun."""
        return self._set


BEGUN: ContextVar[ToolBegun | None] = ContextVar("voxagent_tool_begun", default=None)
"""The `ToolBegun` of the call running in this task (set by `fan_out`, marked by `Toolbox`)."""


async def _report(
    call_one: CallOne,
    name: str,
    arguments: Arguments,
    call_id: str,
    on_finished: ToolFinishedHook | None,
    begun: ToolBegun,
) -> ToolResult:
    BEGUN.set(begun)  # this task's own context: `Toolbox` marks the moment the tool begins
    result = await call_one(name, arguments, call_id)  # never raises but for cancellation
    await notify(on_finished, "on_finished", result)
    return result


async def notify(hook: Callable[..., Any] | None, what: str, *args: Any) -> None:
    """Call a user's hook (sync or async); one that raises is logged, never passed on.

    Only the cancellation of the running task goes through.
    """
    if hook is None:
        return
    try:
        outcome = hook(*args)
        if inspect.isawaitable(outcome):
            await outcome
    except asyncio.CancelledError:
        if is_cancelling():
            raise
        logger.warning("the %s hook was cancelled on its own (ignored)", what)
    except BaseException as error:
        log_failure(logger, error, "the %s hook raised (ignored)", what)


def is_cancelling() -> bool:
    """Whether the running task is being cancelled (not just seeing a stray CancelledError)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _hold(tasks: list[asyncio.Task[ToolResult]]) -> None:
    for task in tasks:
        if not task.done():
            _stragglers.add(task)
            task.add_done_callback(_stragglers.discard)
