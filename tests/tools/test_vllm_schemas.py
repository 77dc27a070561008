"""Every kind of schema `tool` emits compiles in a real vLLM's structured output.

vLLM compiles the tool schemas into a grammar (xgrammar) when ``tool_choice`` is ``required``
or names a tool; a keyword or format it does not know fails the whole request (HTTP 400/500).
Runs only against a real server: set ``VOXAGENT_TEST_BASE_URL`` (for example the tiny CPU
server, ``http://127.0.0.1:8011/v1``).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import os
import pathlib
import typing
import uuid
from typing import Annotated, Any, Literal

import pytest
from openai import AsyncOpenAI
from openai.types.chat.chat_completion import Choice
from pydantic import BaseModel, Field

from tools import Tool, Toolbox, tool

BASE_URL = os.environ.get("VOXAGENT_TEST_BASE_URL", "")

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(not BASE_URL, reason="set VOXAGENT_TEST_BASE_URL to a vLLM server"),
]


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = 9


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool = True


class Address(BaseModel):
    street: str
    city: str = ""


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


class Options(typing.TypedDict, total=False):
    verbose: bool


@tool
def collections(
    pair: tuple[int, str],
    coordinates: tuple[float, float],
    numbers: tuple[int, ...],
    tags: set[str],
    ids: frozenset[int],
    scores: dict[str, list[float]],
    sized: Annotated[list[int], Field(min_length=1, max_length=3)],
) -> str:
    """Containers."""
    return "ok"


@tool
def scalars(
    code: Annotated[str, Field(pattern=r"^[A-Z]{3}$")],
    short: Annotated[str, Field(min_length=1, max_length=5)],
    fraction: Annotated[float, Field(gt=0, lt=1)],
    step: Annotated[int, Field(multiple_of=5)],
    exact: Literal["x"],
    choice: Literal[1, 2],
    level: Level,
    either: int | str,
    amount: decimal.Decimal,
    anything: Any,
    flag: bool = False,
) -> str:
    """Scalars with constraints."""
    return "ok"


@tool
def models(
    pet: Annotated[Cat | Dog, Field(discriminator="kind")],
    address: Address,
    point: Point,
    options: Options,
    maybe: Address | None = None,
) -> str:
    """Models, dataclasses, TypedDicts, unions."""
    return "ok"


@tool
def strings(
    when: datetime.datetime,
    day: datetime.date,
    at: datetime.time,
    wait: datetime.timedelta,
    ident: uuid.UUID,
    blob: bytes,
    where: pathlib.Path,
) -> str:
    """Strings with formats."""
    return "ok"


WIDE = [collections, scalars, models, strings]


async def _answer(box: Toolbox, prompt: str, tool_choice: Any) -> Choice:
    """The server's one choice for a request offering every tool of ``box``."""
    async with AsyncOpenAI(base_url=BASE_URL, api_key="unused", max_retries=0) as client:
        response = await client.chat.completions.create(
            model=(await client.models.list()).data[0].id,
            messages=[{"role": "user", "content": prompt}],
            tools=box.schemas(),  # type: ignore[arg-type]
            tool_choice=tool_choice,
            max_tokens=300,
            temperature=0.0,
        )
    return response.choices[0]


@pytest.mark.parametrize("member", WIDE, ids=lambda t: t.name)
async def test_named_tool_choice_compiles(member: Tool[..., Any]) -> None:
    box = Toolbox(WIDE)
    named = {"type": "function", "function": {"name": member.name}}
    choice = await _answer(box, "Call the tool.", named)
    # The request was accepted: the grammar compiled. What the tiny model then writes is the
    # shortest text the grammar allows, which a tuple or Decimal schema cannot fully constrain;
    # the toolbox's own validation catches that, so only the model-shaped tool must pass.
    if choice.finish_reason == "length":
        return
    assert choice.message.tool_calls, f"no tool call: {choice.message.content!r}"
    call = choice.message.tool_calls[0]
    assert call.function.name == member.name  # type: ignore[union-attr]
    result = await box.call(call.function.name, call.function.arguments, call_id=call.id)  # type: ignore[union-attr]
    assert result.error_kind in (None, "invalid_arguments")
    if member is models:
        assert result.ok, result.content


async def test_required_tool_choice_compiles_all_tools_at_once() -> None:
    choice = await _answer(Toolbox(WIDE), "Call a tool.", "required")
    assert choice.finish_reason == "length" or choice.message.tool_calls
