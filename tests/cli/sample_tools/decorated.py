"""A module with @tool functions (and things that are not tools)."""

from tools import tool

GREETING = "hello"


@tool
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@tool(requires_approval=True)
def shout(text: str) -> str:
    """Say it loudly."""
    return text.upper()


def not_a_tool() -> None:
    """Plain functions are not picked up without an attribute."""
