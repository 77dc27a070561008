"""What vLLM accepts from Voxtral, per request and per audio item: one source for each number.

A leaf module (no audio stack, no HTTP stack), so the CLI can show the limits in its help.
"""

from __future__ import annotations

import math

__all__ = [
    "AUDIO_TOKENS_PER_30S",
    "MAX_AUDIO_BYTES",
    "MAX_AUDIO_ITEMS",
    "MAX_AUDIO_SECONDS",
    "audio_tokens",
]

MAX_AUDIO_SECONDS = 600.0
"""vLLM refuses an audio item longer than this once decoded."""

MAX_AUDIO_BYTES = 25 * 1024 * 1024
"""vLLM refuses an audio item larger than this encoded."""

MAX_AUDIO_ITEMS = 5
"""vLLM accepts at most this many audio items in one request (the whole history counts)."""

AUDIO_TOKENS_PER_30S = 376
"""Prompt tokens per started 30 s of audio (12.5 tokens/s, padded to 30 s, plus markers)."""


def audio_tokens(seconds: float) -> int:
    """Prompt tokens for `seconds` of audio: 376 per started 30 s (at least one block)."""
    return AUDIO_TOKENS_PER_30S * max(1, math.ceil(seconds / 30.0 - 1e-9))
