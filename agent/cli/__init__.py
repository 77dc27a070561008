"""The `voxagent` command line: run, serve, replay, transcribe, ask, devices, doctor.

`main` is the console script's entry point; `ExitCode` documents what its status means.
`run_app` and `checked_agent` give an app (the examples) the command line's handling of the
project's errors and its way of building an `Agent`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from agent.cli._app import checked_agent, run_app, run_to_exit_code
from agent.cli._exit import ExitCode
from agent.cli._parser import COMMANDS, parse_command_line

__all__ = ["ExitCode", "checked_agent", "main", "run_app"]

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
    return run_to_exit_code(_command(args.command)(args), "voxagent", verbose=args.verbose)


class _OneLineFormatter(logging.Formatter):
    """Log lines without tracebacks: the console already says what failed (`-v` shows them)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return super().format(record)


_LOG_FORMAT = "voxagent: %(levelname)s %(name)s: %(message)s"


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter(_LOG_FORMAT) if verbose else _OneLineFormatter(_LOG_FORMAT)
    )
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler])


def _command(name: str) -> Command:
    # Imported here, so `voxagent --help` does not pay for rich, openai and the audio stack.
    module, _, function = next(spec.runs for spec in COMMANDS if spec.name == name).partition(":")
    command: Command = getattr(importlib.import_module(module), function)
    return command
