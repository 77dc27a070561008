"""Tool calls that came back wrong: recovered from text, or given valid ids.

When the model's JSON is invalid, vLLM's mistral parser returns no `tool_calls` and leaves the
raw `[TOOL_CALLS][{"name": ..., "arguments": {...}}]` text (often without the marker, a special
token) in `content`, sometimes after some reply text. `split_tool_calls` turns such text back
into calls; when the text is a broken call list it yields one call whose arguments are the raw
text, so the toolbox answers the model with a precise "not valid JSON" error instead of the turn
ending in noise.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from typing import Any

from agent.client import ToolCall
from tools import NAME_PATTERN

__all__ = [
    "TOOL_CALL_ID",
    "ensure_valid_ids",
    "may_become_tool_calls",
    "new_call_id",
    "recover_tool_calls",
    "split_tool_calls",
]

TOOL_CALL_ID = re.compile(r"^[a-zA-Z0-9]{9}$")
"""The only tool-call ids tekken v7 accepts."""

_MARKER = "[TOOL_CALLS]"
_LOOKS_LIKE_CALLS = re.compile(r'^\[\s*\{\s*"name"')
_NAME = re.compile(r'"name"\s*:\s*"([a-zA-Z0-9_-]{1,64})"')
_ALPHABET = string.ascii_letters + string.digits
UNPARSED_TOOL_NAME = "unparsed_tool_call"


def new_call_id() -> str:
    """A fresh 9-character alphanumeric id, as vLLM generates them."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(9))


def recover_tool_calls(content: str) -> list[ToolCall] | None:
    """The calls left as text in `content`, or None if it is an ordinary reply."""
    return split_tool_calls(content)[1]


def split_tool_calls(content: str) -> tuple[str, list[ToolCall] | None]:
    """`content` split into the reply text before the calls and the calls left as text.

    The calls are None when `content` is an ordinary reply (the text is then `content`).
    """
    marker_at = content.find(_MARKER)
    if marker_at >= 0:
        before, text = content[:marker_at].strip(), content[marker_at + len(_MARKER) :].strip()
    else:
        before, text = "", content.strip()
        if not _LOOKS_LIKE_CALLS.match(text):
            return content, None
    return before, _parse_calls(text)


def may_become_tool_calls(text: str) -> bool:
    """Whether streamed text starting with `[` may still turn out to be a call list."""
    compact = "".join(text.split())
    return any(compact[: len(start)] == start[: len(compact)] for start in (_MARKER, '[{"name"'))


def _parse_calls(text: str) -> list[ToolCall]:
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        parsed = [parsed]
    if isinstance(parsed, list) and parsed and all(_is_call(item) for item in parsed):
        return [
            ToolCall(
                id=new_call_id(),
                name=str(item["name"]),
                arguments=_arguments_text(item.get("arguments")),
            )
            for item in parsed
        ]
    # A broken call list: send it to the named tool (or to a name no tool has), so the
    # model reads why it failed.
    found = _NAME.search(text)
    name = found.group(1) if found else UNPARSED_TOOL_NAME
    return [ToolCall(id=new_call_id(), name=name, arguments=text)]


def ensure_valid_ids(calls: list[ToolCall]) -> list[ToolCall]:
    """The calls unchanged, except that an id tekken v7 would refuse (or a repeated one)
    gets a fresh one, and a name no tool could have becomes `UNPARSED_TOOL_NAME`."""
    seen: set[str] = set()
    fixed: list[ToolCall] = []
    for call in calls:
        call_id = call.id
        if not TOOL_CALL_ID.match(call_id) or call_id in seen:
            call_id = new_call_id()
        seen.add(call_id)
        name = call.name if NAME_PATTERN.match(call.name) else UNPARSED_TOOL_NAME
        fixed.append(ToolCall(id=call_id, name=name, arguments=call.arguments))
    return fixed


def _is_call(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("name"), str) and bool(item["name"])


def _arguments_text(arguments: Any) -> str:
    if arguments is None:
        return "{}"
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False)
