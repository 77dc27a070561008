"""Fixtures shared by the tools tests (helpers: helpers.py; the issue's sample: samples.py)."""

from __future__ import annotations

import pytest

from tests.tools import samples
from tools import Toolbox


@pytest.fixture
def box() -> Toolbox:
    """The issue's sample toolbox: `get_weather` and `set_timer`, approved by `ask_user`."""
    samples.asked.clear()
    return Toolbox([samples.get_weather, samples.set_timer], approve=samples.ask_user)
