"""How `voxagent` runs a command, offered to apps: one-line errors, exit codes, a checked agent.

`run_app` runs a coroutine the way `main` runs a command (a failure is ONE line on stderr and
the exit status `exit_code_for` gives; Ctrl-C is 130, SIGTERM 143); `checked_agent` builds an
`Agent` the way the commands do (the server checked once, without retries; see below).
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.cli._exit import CliError, ExitCode, describe, exit_code_for
from agent.errors import VoxagentError

if TYPE_CHECKING:
    from agent.agent import Agent
    from tools import Tool, Toolbox

__all__ = ["checked_agent", "run_app", "run_to_exit_code"]


def run_app(app: Coroutine[Any, Any, int | None], *, name: str | None = None) -> int:
    """Run `app` (an app's `main()` coroutine) and return its exit status, for `sys.exit`.

    The project's errors are reported as the command line reports them: ``NAME: error: ...``
    on one line of stderr and the status of `agent.cli.ExitCode` (4 for audio that cannot be
    used, 3 for no server, 5 for the microphone, 1 otherwise); Ctrl-C gives 130. `name`
    defaults to the script's name.
    """
    return run_to_exit_code(app, name or Path(sys.argv[0]).stem, verbose=False)


async def checked_agent(
    tools: Toolbox | Iterable[Tool[..., Any] | Callable[..., Any]] = (),
    *,
    base_url: str | None = None,
    model: str | None = None,
    tool_calling: bool = True,
    timeout: float = 120.0,
    **options: Any,
) -> Agent:
    """An `Agent` for a server checked the way `voxagent run` checks it.

    The retry policy of the command line: the check is ONE attempt per request (a server
    that is not there, or not ready, fails at once with the cause: an error `run_app` reports
    with status 3), and the agent's turns then get the library's retries (up to 5 attempts
    with backoff: the faults of a server that has answered are transient). The check also
    refuses tools that leave the server's context no room for speech. `options` go to
    `Agent` (instructions, state, ...); `base_url` defaults as the library's does.
    """
    from agent.cli._agent_setup import agent_for, check_context
    from agent.cli._server import check_server
    from agent.client import resolve_base_url

    info = await check_server(resolve_base_url(base_url), model, tool_calling=tool_calling)
    agent = agent_for(info, timeout=timeout, tools=tools, **options)
    try:
        check_context(agent)
    except BaseException:
        await agent.aclose()
        raise
    return agent


def run_to_exit_code(work: Coroutine[Any, Any, int | None], prog: str, *, verbose: bool) -> int:
    """Run `work` to its end; every way it can end becomes an exit status (and one line)."""
    import asyncio  # here: `voxagent --help` does not need it

    try:
        return int(asyncio.run(_until_terminated(work)) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except _Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        return int(ExitCode.TERMINATED)
    except (CliError, VoxagentError) as error:
        if verbose and not isinstance(error, CliError):
            logging.getLogger("agent.cli").debug("failure", exc_info=error)
        print(f"{prog}: error: {describe(error)}", file=sys.stderr)
        return int(exit_code_for(error))
    except Exception as error:  # a bug, or a failure nobody foresaw: still one line
        logging.getLogger("agent.cli").debug("failure", exc_info=error)
        print(f"{prog}: error: {type(error).__name__}: {error}", file=sys.stderr)
        return int(ExitCode.FAILURE)


class _Terminated(Exception):
    """SIGTERM arrived; the work was cancelled and has cleaned up."""


async def _until_terminated(work: Coroutine[Any, Any, int | None]) -> int | None:
    """Run `work`, turning SIGTERM into a cancellation so `finally` blocks still run."""
    import asyncio

    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
        return await task
    try:
        return await task
    except asyncio.CancelledError:
        if terminated:
            raise _Terminated from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
