"""vLLM's wire format for a chat reply: one builder makes the deltas of a scripted reply, and
both the streamed chunks and the plain completion are made from those same deltas."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from agent._tool_calls import new_call_id
from agent.testing._steps import Step
from agent.testing._vllm import usage

__all__ = ["FINGERPRINT", "ReplyBuilder", "stream_error_event"]

FINGERPRINT = "vllm-scripted"

_ARGUMENT_PIECE = 4
"""vLLM streams tool-call arguments in small pieces; 4 characters is close to what it does."""


def stream_error_event(message: str) -> dict[str, Any]:
    """The error line vLLM puts inside a 200 stream when the engine fails."""
    return {
        "error": {"message": message, "type": "InternalServerError", "param": None, "code": 500}
    }


@dataclass(slots=True)
class ReplyBuilder:
    """The answer to one chat request by one scripted step, in vLLM's shapes.

    The tool calls get their ids once (9 characters, as vLLM makes them), so the streamed and
    the plain form of a reply agree.
    """

    model: str
    body: dict[str, Any]
    step: Step
    call_ids: list[str] = field(init=False)
    id: str = field(init=False)
    created: int = field(init=False)

    def __post_init__(self) -> None:
        self.call_ids = [call.id or new_call_id() for call in self.step.tool_calls]
        self.id = f"chatcmpl-{uuid.uuid4().hex[:16]}"
        self.created = int(time.time())

    @property
    def finish_reason(self) -> str:
        """The step's, else `tool_calls` when it calls tools (not for a named tool_choice:
        vLLM then gives `stop`), else `stop`."""
        if self.step.finish_reason:
            return self.step.finish_reason
        named = isinstance(self.body.get("tool_choice"), dict)
        return "tool_calls" if self.step.tool_calls and not named else "stop"

    def usage(self, content: str | None = None) -> dict[str, int]:
        """Token counts (the completion's estimated from its text and calls)."""
        text = self.step.content if content is None else content
        completion = max(1, len(text) // 4 + 20 * len(self.step.tool_calls))
        return usage(self.body, completion_tokens=completion)

    # --- the deltas -----------------------------------------------------------------------

    def role_delta(self) -> dict[str, Any]:
        return {"role": "assistant", "content": ""}

    def text_deltas(self, texts: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        return [{"content": text} for text in (self.step.text_deltas if texts is None else texts)]

    def tool_call_deltas(self) -> list[dict[str, Any]]:
        """Each call's id and name, then its arguments in pieces (as vLLM streams them)."""
        deltas: list[dict[str, Any]] = []
        calls = zip(self.step.tool_calls, self.call_ids, strict=True)
        for index, (call, call_id) in enumerate(calls):
            head = {"id": call_id, "type": "function", "index": index}
            deltas.append({"tool_calls": [{**head, "function": {"name": call.name}}]})
            arguments = call.arguments_json()
            for start in range(0, len(arguments), _ARGUMENT_PIECE):
                piece = arguments[start : start + _ARGUMENT_PIECE]
                item = {"type": "function", "index": index, "function": {"arguments": piece}}
                deltas.append({"tool_calls": [item]})
        return deltas

    def deltas(self) -> list[dict[str, Any]]:
        """Every delta of the whole reply, in order (the finish chunk's excluded)."""
        return [self.role_delta(), *self.text_deltas(), *self.tool_call_deltas()]

    # --- streamed -------------------------------------------------------------------------

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        """One `chat.completion.chunk` event."""
        choice: dict[str, Any] = {
            "index": 0,
            "delta": delta,
            "logprobs": None,
            "finish_reason": finish_reason,
        }
        if finish_reason is not None:
            choice["stop_reason"] = None
        return {**self._head("chat.completion.chunk"), "choices": [choice]}

    def closing_chunks(self, content: str | None = None) -> list[dict[str, Any]]:
        """The finish chunk(s) and, when asked (`stream_options.include_usage`), usage."""
        if self.step.tool_calls:
            events = [self.chunk({}), self.chunk({}, self.finish_reason)]
        else:
            events = [self.chunk({"content": ""}, self.finish_reason)]
        if (self.body.get("stream_options") or {}).get("include_usage"):
            events.append(
                {
                    **self._head("chat.completion.chunk"),
                    "choices": [],
                    "usage": self.usage(content),
                    "system_fingerprint": FINGERPRINT,
                }
            )
        return events

    def stream(self) -> list[dict[str, Any]]:
        """The whole streamed reply (the `[DONE]` line excluded)."""
        return [self.chunk(delta) for delta in self.deltas()] + self.closing_chunks()

    # --- plain ----------------------------------------------------------------------------

    def completion(self, deltas: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The plain `chat.completion`: the deltas (default: the whole reply's) folded."""
        content, tool_calls = fold(self.deltas() if deltas is None else deltas)
        # vLLM's mistral tool parser (tools with "auto") gives null for no text; others "".
        parsed = bool(self.body.get("tools")) and self.body.get("tool_choice") in (None, "auto")
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content or (None if parsed else ""),
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
            "reasoning": None,
        }
        if tool_calls:
            message["tool_calls"] = tool_calls
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": self.finish_reason,
            "stop_reason": None,
        }
        return {
            **self._head("chat.completion"),
            "choices": [choice],
            "service_tier": None,
            "system_fingerprint": FINGERPRINT,
            "usage": {**self.usage(content), "prompt_tokens_details": None},
            "prompt_logprobs": None,
        }

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}


def fold(deltas: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The text and the tool calls (OpenAI message shape) that a run of deltas carries."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for delta in deltas:
        text.append(str(delta.get("content") or ""))
        for piece in delta.get("tool_calls") or []:
            slot = calls.setdefault(
                piece["index"],
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
            )
            slot["id"] = piece.get("id") or slot["id"]
            function = piece.get("function") or {}
            slot["function"]["name"] += function.get("name") or ""
            slot["function"]["arguments"] += function.get("arguments") or ""
    return "".join(text), [calls[index] for index in sorted(calls)]
