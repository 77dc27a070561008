"""Exceptions a tool raises on purpose to tell the model something went wrong."""

from __future__ import annotations

__all__ = ["ToolError", "ToolRetry"]


class ToolError(Exception):
    """Raise inside a tool to fail the call with a clean message for the model.

    The result's ``content`` is exactly the message, without an exception type or traceback,
    so write it for the model: ``raise ToolError("No city called 'Pariss'; check the spelling.")``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ToolRetry(ToolError):
    """A `ToolError` saying the model should call again with better arguments."""
