"""Text of objects a tool (or an approver) handed us, which may refuse to be printed.

A tool's exception or return value is arbitrary code: its ``__str__`` or ``__repr__`` may raise,
return a str subclass with odd methods, or loop. Everything the toolbox writes about such an
object goes through these helpers, so that describing a failure can never be a new failure.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

__all__ = ["describe_error", "log_failure", "safe_repr", "safe_str", "type_name"]


def safe_str(value: Any) -> str:
    """``str(value)`` as a plain str, or a placeholder naming the type when that raises."""
    try:
        return str.__str__(str(value))  # a plain str even from a str subclass
    except Exception:
        return _placeholder(value)


def safe_repr(value: Any) -> str:
    """``repr(value)`` as a plain str, or a placeholder naming the type when that raises."""
    try:
        return str.__str__(repr(value))
    except Exception:
        return _placeholder(value)


def describe_error(error: BaseException) -> str:
    """``"Type: message"`` (just ``"Type"`` without a message) for any exception object.

    The message is ``str(error)``; when that raises, the message of its args, else none.
    """
    try:
        message = str.__str__(str(error)).strip()
    except Exception:
        message = _args_text(error)
    name = type_name(error)
    return f"{name}: {message}" if message else name


def _args_text(error: BaseException) -> str:
    try:
        args = tuple(error.args)
    except Exception:
        return ""
    if len(args) == 1 and isinstance(args[0], str):
        return str.__str__(args[0]).strip()
    return ", ".join(safe_repr(arg) for arg in args)


def type_name(value: Any) -> str:
    """The name of ``value``'s type (``"object"`` when even that cannot be read)."""
    try:
        name = type(value).__name__  # a metaclass may make this anything, or raise
    except Exception:
        return "object"
    return str.__str__(name) if isinstance(name, str) else "object"


def _placeholder(value: Any) -> str:
    return f"<{type_name(value)} object>"


def log_failure(logger: logging.Logger, error: BaseException, message: str, *args: Any) -> None:
    """Log a warning with ``error``'s traceback, or with its description when the traceback
    itself cannot be printed (a ``__notes__`` that raises...): a bad exception must not make
    the logging fail (a log handler may raise on a bad record, as pytest's does)."""
    try:
        traceback.format_exception(error)
    except Exception:
        logger.warning(
            message + " (%s; no traceback: it cannot be printed)", *args, describe_error(error)
        )
        return
    logger.warning(message, *args, exc_info=error)
