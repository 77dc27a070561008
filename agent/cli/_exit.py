"""Exit codes of `voxagent`, and the error type that carries one to `main`."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["CliError", "ExitCode", "one_line"]


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
    ExitCode.SERVER_UNAVAILABLE: "no server at the URL, or it is not ready (model, tool calling)",
    ExitCode.BAD_INPUT: "an input cannot be used (unreadable audio file, bad --tools module)",
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
