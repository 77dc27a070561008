"""The project's exceptions: one small hierarchy, each message saying what to do."""

from __future__ import annotations

__all__ = [
    "AudioDeviceError",
    "AudioTooLongError",
    "BadAudioError",
    "InvalidRequestError",
    "RequestRejectedError",
    "ServerError",
    "ServerUnavailableError",
    "StreamError",
    "TurnTimeoutError",
    "VoxagentError",
]


class VoxagentError(Exception):
    """Base class of every error this project raises on purpose."""


class BadAudioError(VoxagentError, ValueError):
    """Audio that cannot be used: unreadable, empty, too long, or of an unsupported kind."""


class AudioDeviceError(VoxagentError):
    """The microphone cannot be opened or stopped delivering audio."""


class InvalidRequestError(VoxagentError, ValueError):
    """A request broke one of Voxtral's rules; caught locally before anything was sent."""


class AudioTooLongError(BadAudioError, InvalidRequestError):
    """Audio longer than the server takes: over one item's limit, or more than its context
    holds. Checked locally wherever the server's limits are known."""


class ServerUnavailableError(VoxagentError):
    """The vLLM server could not be reached (refused, timed out) after all retries."""

    def __init__(self, message: str, *, base_url: str | None = None) -> None:
        super().__init__(message)
        self.base_url = base_url


class ServerError(VoxagentError):
    """The server answered with an error after all retries (5xx, 429, or an error mid-stream)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RequestRejectedError(ServerError):
    """The server refused the request (4xx); `server_message` is what it said."""

    def __init__(self, message: str, *, status_code: int, server_message: str) -> None:
        super().__init__(message, status_code=status_code)
        self.server_message = server_message


class StreamError(ServerError):
    """A streamed response broke off or carried an error line after the 200."""

    def __init__(self, message: str, *, status_code: int | None = None, received: str = "") -> None:
        super().__init__(message, status_code=status_code)
        self.received = received
        """The reply text that had already reached the caller when the stream broke."""


class TurnTimeoutError(VoxagentError, TimeoutError):
    """A whole turn (model calls and tools together) ran past the agent's `turn_timeout`."""
