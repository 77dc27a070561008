"""The turn loop: one user turn as small steps, until the model answers without tool calls.

    call the model ─▶ read the reply ─▶ no calls: record the reply, done
          ▲                │ calls
          │                ▼
          │         round limit reached? ─▶ record the calls as not run, done
          │                │
          └── record ◀── run the tools (the toolbox fans out, with started/finished events)

`tool_choice` applies to the first model call and is `auto` once tools have ran, so
`required` cannot loop. Everything the turn does is written into its `TurnRecord` through the
record's own methods; tools that were dispatched finish and are recorded even when the turn is
cancelled (their side effects happened).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent._rules import RuleViolation, check_chat_request
from agent._tool_calls import ensure_valid_ids, split_tool_calls
from agent.backend import Backend, ModelReply, ToolCall
from agent.errors import InvalidRequestError
from agent.events import EventHandler, ToolCallFinished, ToolCallStarted
from agent.history import TurnRecord
from agent.reply_text import ReplyTextGate, emit
from agent.turn import Turn
from tools import Toolbox, ToolResult

__all__ = ["TurnPlan", "not_run", "run_turn"]

_log = logging.getLogger("agent")

Render = Callable[[TurnRecord, list[dict[str, Any]]], list[dict[str, Any]]]
"""The history's rendering of the messages for a request that ends with this turn."""


@dataclass(frozen=True, slots=True)
class TurnPlan:
    """What one turn is run with, fixed when it starts.

    Attributes:
        model: the served model's name.
        toolbox: the tools; `tools` are their schemas as sent.
        tool_choice: for the first model call (then `auto`).
        max_tool_rounds: rounds of tool calls before the turn stops with a note.
        stream: stream the replies.
        sampling: `temperature`, `top_p`, `max_tokens` as sent.
        state: keyword arguments for `Toolbox.call_many` (`{"state": ...}` or `{}`).
        render: builds the request's messages from the history and this turn.
        max_audio_items: the most audio items one request may carry.
    """

    model: str
    toolbox: Toolbox
    tools: list[dict[str, Any]]
    tool_choice: str | dict[str, Any]
    max_tool_rounds: int
    stream: bool
    sampling: dict[str, Any]
    state: dict[str, Any]
    render: Render
    max_audio_items: int


async def run_turn(
    plan: TurnPlan,
    backend: Backend,
    record: TurnRecord,
    turn: Turn,
    on_event: EventHandler | None,
) -> Turn:
    """Run the turn's model calls and tools; fills `record` and `turn` as it goes."""
    started = time.perf_counter()
    choice = plan.tool_choice
    for rounds_run in range(plan.max_tool_rounds + 1):
        reply = await _call_model(plan, backend, record, choice, on_event)
        _count(turn, reply, started)
        content, calls = _read_reply(reply)
        if not calls:
            turn.text = content
            record.add_reply(content)
            return turn
        record.add_tool_calls(content, calls)
        if rounds_run == plan.max_tool_rounds:
            break
        await _run_tools(plan, record, turn, calls, on_event)
        choice = "auto"
    _stop_at_round_limit(plan, record, turn, content, calls)
    return turn


async def _call_model(
    plan: TurnPlan,
    backend: Backend,
    record: TurnRecord,
    choice: str | dict[str, Any],
    on_event: EventHandler | None,
) -> ModelReply:
    messages = plan.render(record, plan.tools)
    try:
        check_chat_request(messages, plan.tools or None, max_audio_items=plan.max_audio_items)
    except RuleViolation as error:
        raise InvalidRequestError(
            f"the request would be refused by Voxtral's tokenizer: {error}"
        ) from error
    gate = ReplyTextGate(on_event) if on_event is not None else None
    reply = await backend.chat(
        model=plan.model,
        messages=messages,
        tools=plan.tools or None,
        tool_choice=choice if plan.tools else None,
        stream=plan.stream,
        on_text=gate.feed if gate is not None and plan.stream else None,
        **plan.sampling,
    )
    if gate is not None:
        await gate.finish(reply)
    return reply


def _count(turn: Turn, reply: ModelReply, started: float) -> None:
    """Add one model call to the turn's rounds, usage and timings."""
    turn.rounds += 1
    turn.usage.add(reply.prompt_tokens, reply.completion_tokens)
    turn.timings.model += reply.duration
    turn.finish_reason = reply.finish_reason
    if turn.timings.time_to_first_token is None and reply.time_to_first_token is not None:
        request_started = time.perf_counter() - reply.duration
        turn.timings.time_to_first_token = request_started - started + reply.time_to_first_token


def _read_reply(reply: ModelReply) -> tuple[str, list[ToolCall]]:
    """The reply's text and calls, with calls left in the text recovered and ids made valid."""
    calls, content = reply.tool_calls, reply.content
    if not calls and content:
        content, recovered = split_tool_calls(content)
        if recovered is not None:
            _log.warning("recovered %d tool call(s) left in the reply text", len(recovered))
            calls = recovered
    return content, ensure_valid_ids(calls) if calls else []


async def _run_tools(
    plan: TurnPlan,
    record: TurnRecord,
    turn: Turn,
    calls: Sequence[ToolCall],
    on_event: EventHandler | None,
) -> None:
    """Run one round of calls. Cancelled, the tools already running finish and are recorded;
    the calls whose tool had not begun (waiting for approval, say) are recorded as not run."""
    finished: dict[str, ToolResult] = {}

    async def started(call_id: str, name: str, arguments: dict[str, Any]) -> None:
        await emit(on_event, ToolCallStarted(call_id, name, arguments))

    async def done(result: ToolResult) -> None:
        finished[result.call_id] = result
        await emit(on_event, ToolCallFinished(result))

    began = time.perf_counter()
    running = asyncio.ensure_future(
        plan.toolbox.call_many(
            [(call.name, call.arguments, call.id) for call in calls],
            on_started=started,
            on_finished=done,
            **plan.state,
        )
    )
    try:
        results = await asyncio.shield(running)
    except asyncio.CancelledError:
        running.cancel()  # no new call; the running tools finish: their side effects happen
        with contextlib.suppress(asyncio.CancelledError):
            await running
        reason = "(Not run: the turn was interrupted before this call began.)"
        kept = [finished.get(call.id) or not_run(call, reason) for call in calls]
        _record_results(record, turn, kept, began)
        raise
    _record_results(record, turn, results, began)


def _record_results(
    record: TurnRecord, turn: Turn, results: Sequence[ToolResult], began: float
) -> None:
    turn.timings.tools += time.perf_counter() - began
    turn.tool_results.extend(results)
    record.add_tool_results(results)


def _stop_at_round_limit(
    plan: TurnPlan, record: TurnRecord, turn: Turn, content: str, calls: Sequence[ToolCall]
) -> None:
    """The last calls are answered with a note instead of being run."""
    note = (
        f"(Stopped: this turn reached its limit of {plan.max_tool_rounds} tool rounds, so the "
        "last tool calls were not run.)"
    )
    _log.warning(
        "turn %d reached max_tool_rounds=%d; %d call(s) not run",
        record.index, plan.max_tool_rounds, len(calls),
    )  # fmt: skip
    record.add_tool_results([not_run(call, note) for call in calls])
    turn.text = f"{content.strip()}\n{note}".strip()
    turn.hit_tool_round_limit = True


def not_run(call: ToolCall, reason: str) -> ToolResult:
    """The result of a call that was never started (so the model still gets one answer)."""
    return ToolResult(
        ok=False,
        content=reason,
        error=reason,
        name=call.name,
        call_id=call.id,
        error_kind="not_run",
    )
