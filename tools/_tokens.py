"""The project's token estimate: what text (a tool schema, a message) costs of the context.

One rule for everyone: `agent.history` trims the conversation with it, and the toolbox counts
what its tool schemas cost every request with it (no tokenizer needed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

__all__ = ["estimate_tokens", "schema_tokens"]

_CHARS_PER_TOKEN = 3.0
"""A deliberately low estimate of characters per token, so the budget errs on the safe side."""


def estimate_tokens(text: str) -> int:
    """A conservative token estimate for text (no tokenizer needed)."""
    return int(len(text) / _CHARS_PER_TOKEN) + 1


def schema_tokens(schemas: Iterable[dict[str, Any]]) -> int:
    """What a request's ``tools`` list costs: its JSON, estimated (0 for no tools)."""
    listed = list(schemas)
    return estimate_tokens(json.dumps(listed)) if listed else 0
