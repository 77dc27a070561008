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
cancelled (their side effects happened), and calls not yet dispatched are answered `not_run`.

When the turn's replies are spoken (the listening loop sets `SPOKEN_REPLIES` for the turn),
each request carries the spoken style, the final reply is recorded once it has been spoken,
and a barge-in stops the turn at once: the model stream is cancelled, the tools already
dispatched finish, none is started after, and what the user heard is what is recorded
(the record is marked interrupted).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from agent._rules import RuleViolation, check_chat_request
from agent._tool_calls import ensure_valid_ids, split_tool_calls
from agent.backend import Backend, ModelReply, ToolCall
from agent.errors import InvalidRequestError
from agent.events import EventHandler, ToolCallFinished, ToolCallStarted
from agent.history import TurnRecord
from agent.reply_text import ReplyTextGate, emit
from agent.speculation import Speculation
from agent.turn import Turn
from tools import Toolbox, ToolResult

__all__ = [
    "SPOKEN_REPLIES",
    "STREAM_CLOCK",
    "SpokenReplies",
    "TurnPlan",
    "not_run",
    "request_reply",
    "run_turn",
]

_log = logging.getLogger("agent")

_T = TypeVar("_T")

BARGED_IN = "Not run: the user interrupted the assistant before this call started."
"""The result of a call that a barge-in stopped before it started."""
_CANCELLED = "(Not run: the turn was interrupted before this call began.)"


class SpokenReplies(Protocol):
    """What the turn loop needs of the voice that speaks a turn's replies.

    The reply text reaches the voice as `ReplyText` events; `mark` separates the messages
    of the turn (one per model call).
    """

    @property
    def style(self) -> str:
        """An instruction sent (as user text, first) with each request of the turn."""
        ...

    @property
    def barged_in(self) -> asyncio.Event:
        """Set when the user started speaking over the assistant."""
        ...

    def mark(self) -> int:
        """The text so far is complete (a message ended): its last sentence is spoken too;
        the mark of what comes next."""
        ...

    def heard(self, mark: int) -> str:
        """What the user heard so far of the messages from `mark` on."""
        ...

    async def spoken(self, mark: int) -> tuple[str, bool]:
        """Until everything is spoken or the user barged in: what was heard of the messages
        from `mark` on, and whether that is all of them."""
        ...


SPOKEN_REPLIES: contextvars.ContextVar[SpokenReplies | None] = contextvars.ContextVar(
    "voxagent_spoken_replies", default=None
)
"""The voice speaking the turn that runs in this context (set by the listening loop)."""

STREAM_CLOCK: contextvars.ContextVar[Callable[[], float] | None] = contextvars.ContextVar(
    "voxagent_stream_clock", default=None
)
"""Seconds on the input stream's timeline now (set by the listening loop): tool dispatch
times are stamped with it."""

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
        speculation: a speculative request whose reply stands for the first model call
            (adopted if it was made with the same spoken style; else a new request is sent).
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
    speculation: Speculation | None = None


async def run_turn(
    plan: TurnPlan,
    backend: Backend,
    record: TurnRecord,
    turn: Turn,
    on_event: EventHandler | None,
) -> Turn:
    """Run the turn's model calls and tools; fills `record` and `turn` as it goes."""
    started = time.perf_counter()
    speech = SPOKEN_REPLIES.get()
    choice = plan.tool_choice
    for rounds_run in range(plan.max_tool_rounds + 1):
        mark = speech.mark() if speech is not None else 0
        if rounds_run == 0 and plan.speculation is not None:
            answer = _adopted(plan, plan.speculation, backend, record, turn, on_event, speech)
        else:
            answer = _call_model(plan, backend, record, choice, on_event, speech)
        reply = await _unless_barged_in(answer, speech)
        if reply is None or (speech is not None and speech.barged_in.is_set()):
            if reply is not None:
                _count(turn, reply, started)
            _stop_at_barge_in(record, turn, reply, speech, mark)
            return turn
        _count(turn, reply, started)
        content, calls = _read_reply(reply)
        if not calls:
            turn.text = content
            await _record_reply(record, content, speech, mark)
            return turn
        record.add_tool_calls(content, calls)
        if speech is not None:
            speech.mark()  # the message is complete: its last sentence is spoken now
        if rounds_run == plan.max_tool_rounds:
            break
        await _run_tools(plan, record, turn, calls, on_event, speech)
        if record.interrupted:
            return turn
        choice = "auto"
    _stop_at_round_limit(plan, record, turn, content, calls)
    return turn


async def _unless_barged_in(work: Awaitable[_T], speech: SpokenReplies | None) -> _T | None:
    """`work`'s result, or None when the user barged in first (`work` is then cancelled)."""
    if speech is None:
        return await work
    task = asyncio.ensure_future(work)
    barge_in = asyncio.ensure_future(speech.barged_in.wait())
    try:
        await asyncio.wait({task, barge_in}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        barge_in.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    return None if task.cancelled() else task.result()


def _stop_at_barge_in(
    record: TurnRecord,
    turn: Turn,
    reply: ModelReply | None,
    speech: SpokenReplies | None,
    mark: int,
) -> None:
    """The user barged in during a model call: keep what they heard of it, and answer the
    calls it made (if it came whole) with `not_run`. Nothing heard, nothing is recorded for
    it (an empty assistant message is refused; invented words were never said)."""
    assert speech is not None
    record.interrupted = True
    heard = speech.heard(mark)
    calls = _read_reply(reply)[1] if reply is not None else []
    if calls:
        record.add_tool_calls(heard, calls)
        record.add_tool_results([not_run(call, BARGED_IN) for call in calls])
    else:
        record.add_reply(heard)
    turn.text = heard


async def _record_reply(
    record: TurnRecord, content: str, speech: SpokenReplies | None, mark: int
) -> None:
    """The final reply; when spoken, once it has been, as far as it was heard."""
    if speech is None:
        record.add_reply(content)
        return
    heard, whole = await speech.spoken(mark)
    if whole:
        record.add_reply(content)
    else:
        record.interrupted = True
        record.add_reply(heard)


async def _call_model(
    plan: TurnPlan,
    backend: Backend,
    record: TurnRecord,
    choice: str | dict[str, Any],
    on_event: EventHandler | None,
    speech: SpokenReplies | None,
) -> ModelReply:
    gate = ReplyTextGate(on_event) if on_event is not None else None
    style = speech.style if speech is not None else None
    on_text = gate.feed if gate is not None and plan.stream else None
    reply = await request_reply(plan, backend, record, choice, on_text, style)
    if gate is not None:
        await gate.finish(reply)
    return reply


async def _adopted(
    plan: TurnPlan,
    speculation: Speculation,
    backend: Backend,
    record: TurnRecord,
    turn: Turn,
    on_event: EventHandler | None,
    speech: SpokenReplies | None,
) -> ModelReply:
    """The speculative request's reply, its held text delivered now; a new request where it
    was made for another voice, or failed before any of its text went out."""
    if speculation.style == (speech.style if speech is not None else None):
        gate = ReplyTextGate(on_event) if on_event is not None else None
        reply = await speculation.adopt(gate.feed if gate is not None and plan.stream else None)
        if reply is not None:
            turn.timings.from_speculation = True
            if gate is not None:
                await gate.finish(reply)
            return reply
    speculation.cancel()
    return await _call_model(plan, backend, record, plan.tool_choice, on_event, speech)


async def request_reply(
    plan: TurnPlan,
    backend: Backend,
    record: TurnRecord,
    choice: str | dict[str, Any],
    on_text: Callable[[str], Awaitable[None]] | None,
    style: str | None,
) -> ModelReply:
    """One model call for the turn in `record`: its messages checked against Voxtral's rules,
    the streamed text to `on_text`; `style` (the spoken style) goes first, for this request
    only (the agent's instructions stay as they are)."""
    messages = plan.render(record, plan.tools)
    if style is not None:
        messages = [{"role": "user", "content": style}, *messages]
    try:
        check_chat_request(messages, plan.tools or None, max_audio_items=plan.max_audio_items)
    except RuleViolation as error:
        raise InvalidRequestError(
            f"the request would be refused by Voxtral's tokenizer: {error}"
        ) from error
    return await backend.chat(
        model=plan.model,
        messages=messages,
        tools=plan.tools or None,
        tool_choice=choice if plan.tools else None,
        stream=plan.stream,
        on_text=on_text,
        **plan.sampling,
    )


def _count(turn: Turn, reply: ModelReply, started: float) -> None:
    """Add one model call to the turn's rounds, usage and timings."""
    turn.rounds += 1
    turn.usage.add(reply.prompt_tokens, reply.completion_tokens)
    turn.timings.model += reply.duration
    turn.finish_reason = reply.finish_reason
    if turn.timings.time_to_first_token is None and reply.time_to_first_token is not None:
        request_started = time.perf_counter() - reply.duration
        # A speculative reply may have begun before the turn did: then it is 0.
        first_token = request_started - started + reply.time_to_first_token
        turn.timings.time_to_first_token = max(0.0, first_token)


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
    speech: SpokenReplies | None,
) -> None:
    """Run one round of calls. Cancelled, or barged in on, it dispatches no further call and
    waits for the dispatched ones; they are recorded, the others answered `not_run`."""
    done: dict[str, ToolResult] = {}

    clock = STREAM_CLOCK.get()

    async def started(call_id: str, name: str, arguments: dict[str, Any]) -> None:
        if clock is not None:
            turn.timings.tool_dispatched_at[call_id] = clock()
        await emit(on_event, ToolCallStarted(call_id, name, arguments))

    async def finished(result: ToolResult) -> None:
        done[result.call_id] = result
        await emit(on_event, ToolCallFinished(result))

    began = time.perf_counter()
    running = asyncio.ensure_future(
        plan.toolbox.call_many(
            [(call.name, call.arguments, call.id) for call in calls],
            on_started=started,
            on_finished=finished,
            **plan.state,
        )
    )
    try:
        results = await _unless_barged_in(asyncio.shield(running), speech)
    except asyncio.CancelledError:
        await _stop_dispatching(running)  # the side effects are happening: keep them
        _record_results(record, turn, _answers(calls, done, _CANCELLED), began)
        raise
    if results is None:  # barged in
        await _stop_dispatching(running)
        record.interrupted = True
        results = _answers(calls, done, BARGED_IN)
    _record_results(record, turn, results, began)


async def _stop_dispatching(running: asyncio.Future[list[ToolResult]]) -> None:
    """Cancel the fan-out (it starts no further call) and wait for the dispatched calls."""
    running.cancel()
    await asyncio.wait({running})


def _answers(
    calls: Sequence[ToolCall], done: dict[str, ToolResult], reason: str
) -> list[ToolResult]:
    """One result per call, in order: its own where it ran, else `not_run`."""
    return [done.get(call.id) or not_run(call, reason) for call in calls]


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
