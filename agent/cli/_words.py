"""Counting words in the command line's output: "1 tool", "12 tools", never "1 tools"."""

from __future__ import annotations

__all__ = ["count"]


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``count(1, "tool")`` is "1 tool", ``count(3, "tool")`` "3 tools" (`plural` if the noun
    does not take an s)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
