"""One attribute per shape `--tools module:attribute` accepts, and a few it refuses."""

from typing import Any

from tools import Toolbox
from tools.builtin import calculate


def word_count(text: str) -> int:
    """Count the words of a text."""
    return len(text.split())


box = Toolbox([word_count], default_timeout=5.0, approve=lambda name, arguments: True)
listed = [word_count, calculate]
single = calculate


def make_tools() -> list[Any]:
    """A factory: called without arguments."""
    return [calculate]


def needs_argument(flag: bool) -> list[Any]:
    return [calculate]


def broken_factory() -> list[Any]:
    raise RuntimeError("database is down")


number = 42
empty: list[Any] = []
duplicates = [calculate, calculate]
