"""The code sample of issue 2 §2, verbatim apart from the bodies, shared by the tools tests.

Tests that read the public API as the issue does use these tools (and the `box` fixture of
conftest.py: a `Toolbox` of both with `ask_user` as its approver).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from tools import tool

__all__ = ["ask_user", "asked", "get_weather", "set_timer", "undecorated_get_weather"]


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:  # type: ignore[type-arg]
    """Get the current weather for a city.

    Args:
        city: City name, for example "Paris".
        unit: Temperature unit.
    """
    return {"city": city, "unit": unit, "temperature": 21}


@tool(name="set_timer", description="Start a kitchen timer.", timeout=10.0, requires_approval=True)
async def set_timer(minutes: int, label: str | None = None) -> str:
    await asyncio.sleep(0)
    return f"Timer set for {minutes} minutes" + (f" ({label})" if label else "")


def undecorated_get_weather(
    city: str, unit: Literal["celsius", "fahrenheit"] = "celsius"
) -> dict[str, Any]:
    return {"city": city, "unit": unit, "temperature": 21}


asked: list[tuple[str, dict[str, Any]]] = []


def ask_user(name: str, arguments: dict[str, Any]) -> bool:
    """The sample approver: records what it was asked, and approves."""
    asked.append((name, arguments))
    return True
