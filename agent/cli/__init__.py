"""The `voxagent` command line: run, serve, replay, transcribe, ask, devices, doctor.

`main` is the console script's entry point; `ExitCode` documents what its status means.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from agent.cli._exit import CliError, ExitCode
from agent.cli._parser import parse_command_line

__all__ = ["ExitCode", "main"]

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, ExitCode]]


def main(argv: list[str] | None = None) -> int:
    """Run `voxagent` with `argv` (default: `sys.argv[1:]`); return the exit status.

    Failures are reported as one line on stderr, never as a traceback (`--verbose` adds one).
    Ctrl-C and SIGTERM stop the command cleanly (a server it started is stopped too).
    """
    try:
        args = parse_command_line(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error (status 2)
        return exit_.code if isinstance(exit_.code, int) else ExitCode.USAGE
    _configure_logging(args.verbose)
    command = _commands()[args.command]
    try:
        return int(asyncio.run(_until_terminated(command(args))))
    except CliError as error:
        _report(error.message, args.verbose, error)
        return int(error.code)
    except KeyboardInterrupt:
        print("voxagent: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except _Terminated:
        print("voxagent: terminated", file=sys.stderr)
        return int(ExitCode.TERMINATED)
    except Exception as error:  # a bug, or a failure nobody foresaw: still one line
        _report(f"{type(error).__name__}: {error}", True, error)
        return int(ExitCode.FAILURE)


class _Terminated(Exception):
    """SIGTERM arrived; the command was cancelled and has cleaned up."""


async def _until_terminated(work: Coroutine[Any, Any, ExitCode]) -> ExitCode:
    """Run `work`, turning SIGTERM into a cancellation so `finally` blocks still run."""
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


class _OneLineFormatter(logging.Formatter):
    """Log lines without tracebacks: the console already says what failed (`-v` shows them)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return super().format(record)


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler()
    style = "voxagent: %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(style) if verbose else _OneLineFormatter(style))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler])


def _report(message: str, with_traceback: bool, error: BaseException) -> None:
    if with_traceback and not isinstance(error, CliError):
        logging.getLogger("agent.cli").debug("failure", exc_info=error)
    print(f"voxagent: error: {message}", file=sys.stderr)


def _commands() -> dict[str, Command]:
    # Imported here, so `voxagent --help` does not pay for rich, openai and the audio stack.
    from agent.cli._devices import devices_command
    from agent.cli._doctor import doctor_command
    from agent.cli._replay import replay_command
    from agent.cli._run import run_command
    from agent.cli._serve import serve_command
    from agent.cli._transcribe import ask_command, transcribe_command

    return {
        "run": run_command,
        "serve": serve_command,
        "replay": replay_command,
        "transcribe": transcribe_command,
        "ask": ask_command,
        "devices": devices_command,
        "doctor": doctor_command,
    }
