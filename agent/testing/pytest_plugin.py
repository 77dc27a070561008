"""pytest plugin (registered as the `voxagent` pytest11 entry point): the `scripted_server`
and `scripted_backend` fixtures, verified (no unused steps, no unexpected requests) when the
test passed.

pytest loads this module in every run of a venv that has the package, so it imports nothing
heavy: the scripted server and backend (mistral-common, openai, soundfile) are imported when
a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from agent.testing._backend import ScriptedBackend
    from agent.testing._server import ScriptedServer

__all__ = ["scripted_backend", "scripted_server"]

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
    from agent.testing._server import ScriptedServer

    server = ScriptedServer().start()
    try:
        yield server
    finally:
        server.stop()
    _verify_if_passed(request, server)


@pytest.fixture
def scripted_backend(request: pytest.FixtureRequest) -> Generator[ScriptedBackend, None, None]:
    """A `ScriptedBackend` (no sockets); script it, give it to `Agent(client=...)`."""
    from agent.testing._backend import ScriptedBackend

    backend = ScriptedBackend()
    yield backend
    _verify_if_passed(request, backend)


def _verify_if_passed(
    request: pytest.FixtureRequest, script: ScriptedServer | ScriptedBackend
) -> None:
    report = request.node.stash.get(_CALL_REPORT, None)
    if report is not None and report.passed:
        script.verify()
