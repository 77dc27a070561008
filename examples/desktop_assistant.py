"""A desktop voice assistant in a few dozen lines: the built-in tools plus one of its own.

    voxagent serve                                      # in another terminal (needs a GPU)
    python examples/desktop_assistant.py                # talk into the microphone
    python examples/desktop_assistant.py --replay examples/audio/timer.wav

`voxagent run` is the full version of this (live console, --tools, --log, ...). Errors are
handled as `voxagent` handles them (`agent.cli.run_app`): one line, and the exit status
`voxagent --help` lists (3: no server, 4: unusable audio, 5: no microphone, 1: a turn failed).
"""

from __future__ import annotations

import argparse
import random
import sys
from typing import Any

from agent import ToolCallFinished, TurnFailed, TurnFinished, TurnTranscribed
from agent.audio import AudioSource, Microphone, WavSource
from agent.cli import ExitCode, checked_agent, run_app
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

    source: AudioSource = WavSource(args.replay) if args.replay else Microphone()
    timers = TimerService(on_fire=ring)
    toolbox = Toolbox([*default_tools(timers=timers), roll_dice], approve=ask_user)
    # Checked as `voxagent run` checks it: a missing server fails at once, with the cause.
    agent = await checked_agent(
        toolbox,
        base_url=args.base_url,
        instructions="You are a helpful desktop assistant. Answer in one or two sentences.",
    )
    failed = 0
    async with agent:
        print(f"Listening (model {agent.model}). Ctrl-C quits.", flush=True)
        async for event in agent.listen(source):
            if isinstance(event, ToolCallFinished):
                print(f"  [{event.result.name}] {event.result.content}", flush=True)
            elif isinstance(event, TurnFinished):
                print(f"assistant: {event.turn.text}", flush=True)
            elif isinstance(event, TurnTranscribed) and event.transcript:
                # made beside the turn, so it can come before or after the reply
                print(f"you said: {event.transcript}", flush=True)
            elif isinstance(event, TurnFailed):
                failed += 1
                print(f"(that turn failed: {event.error})", flush=True)
    timers.cancel_all()
    return ExitCode.FAILURE if failed else ExitCode.OK


if __name__ == "__main__":
    sys.exit(run_app(main()))
