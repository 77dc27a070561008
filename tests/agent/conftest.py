import pytest

from agent import Agent
from agent.testing import ScriptedServer
from tools import tool


@tool
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city name
    """
    return f"sunny in {city}"


@tool
def set_timer(minutes: int) -> str:
    """Start a timer.

    Args:
        minutes: how long
    """
    return f"timer set for {minutes} min"


@pytest.fixture
async def make_agent(scripted_server: ScriptedServer):
    """Agents pointed at the scripted server, with fast retries; closed after the test."""
    agents: list[Agent] = []

    def make(**options) -> Agent:
        options.setdefault("base_url", scripted_server.base_url)
        options.setdefault("retry_backoff", 0.001)
        agent = Agent(options.pop("tools", [get_weather, set_timer]), **options)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        await agent.aclose()


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
