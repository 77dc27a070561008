"""A desktop voice assistant in a few dozen lines: the built-in tools plus one of its own.

    voxagent serve                                      # in another terminal (needs a GPU)
    python examples/desktop_assistant.py                # talk into the microphone
    python examples/desktop_assistant.py --replay examples/audio/timer.wav

`voxagent run` is the full version of this (live console, --tools, --log, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from typing import Any

from agent import Agent, ServerUnavailableError, ToolCallFinished, TurnFailed, TurnFinished
from agent.audio import AudioSource, Microphone, WavSource
from tools import Toolbox, ToolError, tool
from tools.builtin import Timer, TimerService, default_tools


@tool
def roll_dice(sides: int = 6, count: int = 1) -> list[int]:
    """Roll dice for the user.

    Args:
        sides: Faces on each die.
        count: How many dice to roll.
    """
    if not (2 <= sides <= 1000 and 1 <= count <= 20):
        raise ToolError("Use 2 to 1000 sides and 1 to 20 dice.")
    return [random.randint(1, sides) for _ in range(count)]


def ask_user(name: str, arguments: dict[str, Any]) -> bool:
    """Approve a tool call with side effects (a sync approver runs in a worker thread)."""
    try:
        return input(f"Allow {name}({arguments})? [y/N] ").strip().lower() == "y"
    except EOFError:  # no terminal: refuse
        return False


def ring(timer: Timer) -> None:
    print(f"⏰ {timer.label or timer.kind} is ringing!", flush=True)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="the vLLM server (default: $VOXAGENT_BASE_URL)")
    parser.add_argument("--replay", help="a recording to use instead of the microphone")
    args = parser.parse_args(argv)

    timers = TimerService(on_fire=ring)
    toolbox = Toolbox([*default_tools(timers=timers), roll_dice], approve=ask_user)
    agent = Agent(
        toolbox,
        base_url=args.base_url,
        instructions="You are a helpful desktop assistant. Answer in one or two sentences.",
    )
    source: AudioSource = WavSource(args.replay) if args.replay else Microphone()
    async with agent:
        try:
            info = await agent.check_server()
        except ServerUnavailableError as error:
            print(f"error: {error}", file=sys.stderr)
            return 3
        print(f"Listening (model {info.model}). Ctrl-C quits.", flush=True)
        async for event in agent.listen(source):
            if isinstance(event, ToolCallFinished):
                print(f"  [{event.result.name}] {event.result.content}", flush=True)
            elif isinstance(event, TurnFinished):
                print(f"you said: {event.turn.transcript or '(audio)'}", flush=True)
                print(f"assistant: {event.turn.text}", flush=True)
            elif isinstance(event, TurnFailed):
                print(f"(that turn failed: {event.error})", flush=True)
    timers.cancel_all()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(130)
