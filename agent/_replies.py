"""Reading vLLM's answers: a chat completion or its stream of chunks, into one `ModelReply`.

Anything in a 200 that is not a chat completion (an HTML page from a proxy, `[]`, `null`,
broken JSON) raises `UnusableBody`, which the client treats like a 5xx: retried, then a
`ServerError` naming the URL.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import ValidationError

from agent.backend import ModelReply, TextCallback, ToolCall

__all__ = ["UnusableBody", "read_completion", "read_stream"]

_SNIPPET = 80


class UnusableBody(Exception):
    """A 200 whose body is not what the endpoint answers (raised before any text is used)."""

    def __init__(self, what: str, body: object) -> None:
        text = body if isinstance(body, str) else repr(body)
        snippet = " ".join(text.split())[:_SNIPPET]
        super().__init__(f"{what}; it began with {snippet!r}" if snippet else f"{what}; empty")


def read_completion(body_text: str) -> ModelReply:
    """A non-streamed chat completion's body, as text, into a reply."""
    try:
        data = json.loads(body_text)
    except ValueError:
        raise UnusableBody("the body is not JSON", body_text) from None
    if not isinstance(data, dict):
        raise UnusableBody("the body is not a chat completion object", body_text)
    try:
        completion = ChatCompletion.model_validate(data)
    except ValidationError as error:
        reason = error.errors()[0]["msg"]
        raise UnusableBody(f"the body is not a chat completion ({reason})", body_text) from None
    if not completion.choices:
        raise UnusableBody("the completion has no choices", body_text)
    choice = completion.choices[0]
    message = choice.message
    calls = [
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "")
        for call in message.tool_calls or []
        if call.type == "function"
    ]
    usage = completion.usage
    return ModelReply(
        content=message.content or "",
        tool_calls=calls,
        finish_reason=choice.finish_reason,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
    )


async def read_stream(
    chunks: AsyncIterator[ChatCompletionChunk],
    started: float,
    on_text: TextCallback | None,
    delivered: list[str],
) -> ModelReply:
    """Concatenate text deltas and tool-call pieces per index, as vLLM streams them.

    Every text delta passed to `on_text` is also appended to `delivered`, so the caller knows
    what reached the user if the stream breaks later.
    """
    reply = ModelReply()
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    iterator = aiter(chunks)
    while True:
        try:
            chunk = await anext(iterator)
            _read_chunk(chunk, reply, text, calls, started)
        except StopAsyncIteration:
            break
        except (ValueError, TypeError, AttributeError) as error:
            # The SSE lines are not chat completion chunks (broken JSON, `[]`, `null`, ...).
            raise UnusableBody(f"a stream line is not a completion chunk ({error})", "") from None
        if on_text is not None:
            for delta in text[len(delivered) :]:
                delivered.append(delta)
                await _maybe_await(on_text(delta))
    if reply.time_to_first_token is None:
        reply.time_to_first_token = time.perf_counter() - started
    reply.content = "".join(text)
    reply.tool_calls = [
        ToolCall(id=slot["id"], name=slot["name"], arguments="".join(slot["arguments"]))
        for _, slot in sorted(calls.items())
    ]
    return reply


def _read_chunk(
    chunk: ChatCompletionChunk,
    reply: ModelReply,
    text: list[str],
    calls: dict[int, dict[str, Any]],
    started: float,
) -> None:
    if chunk.usage is not None:
        reply.prompt_tokens = chunk.usage.prompt_tokens
        reply.completion_tokens = chunk.usage.completion_tokens
    for choice in chunk.choices:
        delta = choice.delta
        if (delta.content or delta.tool_calls) and reply.time_to_first_token is None:
            reply.time_to_first_token = time.perf_counter() - started
        if delta.content:
            text.append(delta.content)
        for piece in delta.tool_calls or []:
            slot = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": []})
            if piece.id:
                slot["id"] = piece.id
            if piece.function is not None:
                if piece.function.name:
                    slot["name"] += piece.function.name
                if piece.function.arguments:
                    slot["arguments"].append(piece.function.arguments)
        if choice.finish_reason is not None:
            reply.finish_reason = choice.finish_reason


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if result is not None:
        await result
