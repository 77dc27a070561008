import os

import pytest

from tools import tool

BASE_URL = os.environ.get("VOXAGENT_TEST_BASE_URL", "")

needs_vllm = pytest.mark.skipif(
    not BASE_URL,
    reason="VOXAGENT_TEST_BASE_URL is not set: start a vLLM server (../shared/vllm-tiny/up 8011 "
    "or `voxagent serve`) and export its /v1 URL to run the real-server tier",
)


@pytest.fixture
def base_url() -> str:
    return BASE_URL


@tool
def get_weather(city: str) -> str:
    """The current weather in a city.

    Args:
        city: the city name
    """
    return f"Sunny and 21 degrees in {city or 'your city'}."


@tool
def set_timer(minutes: int) -> str:
    """Start a countdown timer.

    Args:
        minutes: how many minutes
    """
    return f"Timer set for {minutes} minutes."
