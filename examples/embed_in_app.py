"""Embedding an `Agent` in an app: a small home-automation controller driven by voice.

The app owns its state (`Home`); its tools reach it through `ToolContext`, and the app reacts to
the agent's event stream (here it redraws a status line; a real app would update its UI or speak
the reply).

    python examples/embed_in_app.py --replay examples/audio/kitchen_lights.wav

Errors end the app as they end `voxagent` (`agent.cli.run_app`): one line and an exit status.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Literal

from agent import (
    Agent,
    AgentEvent,
    SpeechStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnFailed,
    TurnFinished,
)
from agent.audio import AudioSource, Microphone, WavSource
from agent.cli import ExitCode, checked_agent, run_app
from tools import ToolContext, ToolError, tool

Room = Literal["kitchen", "living room", "bedroom"]


@dataclass
class Home:
    """What the controller controls."""

    lights: dict[str, bool] = field(
        default_factory=lambda: {"kitchen": False, "living room": False, "bedroom": False}
    )
    thermostat_celsius: float = 20.0


@tool
def set_light(room: Room, on: bool, context: ToolContext[Home]) -> str:
    """Switch the light of a room on or off.

    Args:
        room: The room.
        on: True to switch it on, False to switch it off.
    """
    context.state.lights[room] = on
    return f"The {room} light is {'on' if on else 'off'}."


@tool
def set_thermostat(celsius: float, context: ToolContext[Home]) -> str:
    """Set the heating's target temperature.

    Args:
        celsius: The temperature in degrees Celsius, 10 to 28.
    """
    if not 10 <= celsius <= 28:
        raise ToolError("The thermostat takes 10 to 28 °C.")
    context.state.thermostat_celsius = celsius
    return f"The thermostat is set to {celsius:g} °C."


@tool
def home_status(context: ToolContext[Home]) -> dict[str, object]:
    """Which lights are on, and the thermostat's setting."""
    home = context.state
    return {"lights": home.lights, "thermostat_celsius": home.thermostat_celsius}


class HomeController:
    """The app: its state, its voice agent, and what it does with each event."""

    def __init__(self, agent: Agent, home: Home) -> None:
        self.agent = agent
        self.home = home
        self.failed_turns = 0

    @classmethod
    async def connect(cls, base_url: str | None = None) -> HomeController:
        """The controller, once the server is checked (a missing one fails at once)."""
        home = Home()
        agent = await checked_agent(
            [set_light, set_thermostat, home_status],
            base_url=base_url,
            state=home,
            instructions="You control the user's home. Confirm what you did in a few words.",
        )
        return cls(agent, home)

    def status_line(self) -> str:
        lights = ", ".join(
            f"{room} {'on' if on else 'off'}" for room, on in self.home.lights.items()
        )
        return f"[home] lights: {lights} | thermostat {self.home.thermostat_celsius:g} °C"

    def on_event(self, event: AgentEvent) -> None:
        if isinstance(event, SpeechStarted):
            print("[mic] hearing you...", flush=True)
        elif isinstance(event, ToolCallStarted):
            print(f"[app] {event.name} {event.arguments}", flush=True)
        elif isinstance(event, ToolCallFinished):
            print(self.status_line(), flush=True)
        elif isinstance(event, TurnFinished):
            print(f"[say] {event.turn.text}", flush=True)
        elif isinstance(event, TurnFailed):
            self.failed_turns += 1
            print(f"[app] sorry, that did not work: {event.error}", flush=True)

    async def run(self, source: AudioSource) -> None:
        async with self.agent:
            print(self.status_line(), flush=True)
            async for event in self.agent.listen(source):
                self.on_event(event)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A voice-controlled home (example).")
    parser.add_argument("--base-url", help="the vLLM server (default: $VOXAGENT_BASE_URL)")
    parser.add_argument("--replay", help="a recording to use instead of the microphone")
    args = parser.parse_args(argv)
    source: AudioSource = WavSource(args.replay) if args.replay else Microphone()
    controller = await HomeController.connect(args.base_url)
    await controller.run(source)
    return ExitCode.FAILURE if controller.failed_turns else ExitCode.OK


if __name__ == "__main__":
    sys.exit(run_app(main()))
