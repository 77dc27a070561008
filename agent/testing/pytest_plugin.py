"""pytest plugin (registered as the `voxagent` pytest11 entry point): the `scripted_server`
fixture, a started `ScriptedServer` that is verified (no unused steps, no unexpected requests)
when the test passed."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from agent.testing._server import ScriptedServer

__all__ = ["scripted_server"]

_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember the test's own outcome, so a failed test is not also blamed on the script."""
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


@pytest.fixture
def scripted_server(request: pytest.FixtureRequest) -> Generator[ScriptedServer, None, None]:
    """A `ScriptedServer` on a free loopback port; script it, point an `Agent` at `base_url`."""
    server = ScriptedServer().start()
    try:
        yield server
    finally:
        server.stop()
    report = request.node.stash.get(_CALL_REPORT, None)
    if report is not None and report.passed:
        server.verify()
