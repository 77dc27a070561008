"""Exit codes of `voxagent`, the error type that carries one to `main`, and the one rule that
maps the project's errors to exit codes and one-line messages (`exit_code_for`, `describe`)."""

from __future__ import annotations

import re
from enum import IntEnum

from agent.errors import AudioDeviceError, BadAudioError, ServerUnavailableError

__all__ = [
    "CliError",
    "ExitCode",
    "as_cli_error",
    "describe",
    "exit_code_for",
    "one_line",
    "root_cause",
]


class ExitCode(IntEnum):
    """What a `voxagent` exit status means; scripts can rely on these values."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    SERVER_UNAVAILABLE = 3
    BAD_INPUT = 4
    AUDIO_DEVICE = 5
    NOT_INSTALLED = 6
    INTERRUPTED = 130
    TERMINATED = 143

    @property
    def meaning(self) -> str:
        """One line saying when `voxagent` exits with this status."""
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "done",
    ExitCode.FAILURE: "a runtime failure (a turn failed, the server answered an error, vLLM died)",
    ExitCode.USAGE: "wrong command line",
    ExitCode.SERVER_UNAVAILABLE: (
        "no server at the URL, or it is not ready (model, tool calling, room for the tools)"
    ),
    ExitCode.BAD_INPUT: "an input cannot be used (unreadable or too long audio, bad --tools)",
    ExitCode.AUDIO_DEVICE: "the microphone or PortAudio is missing or cannot be opened",
    ExitCode.NOT_INSTALLED: "something needed is missing (vLLM or a GPU for serve, onnxruntime)",
    ExitCode.INTERRUPTED: "stopped with Ctrl-C",
    ExitCode.TERMINATED: "stopped by SIGTERM",
}


def one_line(text: str, limit: int | None = None) -> str:
    """`text` on one line (each run of whitespace made one space), cut to `limit` characters
    with a closing `…`."""
    flat = " ".join(text.split())
    if limit is None or len(flat) <= limit:
        return flat
    return flat[: limit - 1] + "…"


class CliError(Exception):
    """A failure to report as ONE line on stderr, then exit with `code` (no traceback)."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit status a failure gets: the one rule of the command line and the examples.

    Audio that cannot be used (unreadable, too long for an item or for the server's context)
    is bad input; a server that cannot be reached is unavailable; the microphone is an audio
    device failure; any other error is a runtime failure.
    """
    if isinstance(error, CliError):
        return error.code
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return ExitCode.FAILURE


_CODES: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (BadAudioError, ExitCode.BAD_INPUT),
    (AudioDeviceError, ExitCode.AUDIO_DEVICE),
    (ServerUnavailableError, ExitCode.SERVER_UNAVAILABLE),
)


def describe(error: BaseException) -> str:
    """The failure in one line: the error's own words, and for an unreachable server the
    root cause (`Name or service not known`, a TLS error) when the words do not name it."""
    if isinstance(error, CliError):
        return error.message
    text = one_line(str(error)) or type(error).__name__
    cause = root_cause(error) if isinstance(error, ServerUnavailableError) else None
    if cause and cause not in text:
        text = f"{text} (cause: {cause})"
    return text


def as_cli_error(error: BaseException) -> CliError:
    """`error` as the one line and exit code `main` reports."""
    return error if isinstance(error, CliError) else CliError(describe(error), exit_code_for(error))


_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")


def root_cause(error: BaseException) -> str | None:
    """What lies at the bottom of `error`'s chain of causes, in words: ``Name or service not
    known``, ``Connection refused``, ``TLS/SSL error: ...`` (None without a cause)."""
    seen: set[int] = set()
    inner: BaseException | None = None
    current: BaseException | None = error.__cause__ or error.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        inner = current
        current = current.__cause__ or current.__context__
    if inner is None:
        return None
    if isinstance(inner, ConnectionRefusedError):  # asyncio words it "Connect call failed"
        return "Connection refused"
    text = _ERRNO.sub("", one_line(str(inner))) or type(inner).__name__
    if "SSL" in type(inner).__name__:  # ssl.SSLError and its kinds, without importing ssl
        return f"TLS/SSL error: {text}"
    return text
