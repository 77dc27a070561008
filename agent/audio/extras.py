"""Optional parts of the audio layer (Silero VAD, Smart Turn): finding their files, and saying
how to install them when they are missing."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from agent.errors import VoxagentError

__all__ = ["MissingExtraError", "wheel_file"]


class MissingExtraError(VoxagentError):
    """An optional part is not installed; the message says how to install it.

    Attributes:
        extra: the package extra that brings it (``"silero"``, ``"turn"``...).
        install: the shell commands that install it, in order.
        api_hint: what a Python caller can do instead (e.g. pass ``model_path=``).
    """

    def __init__(self, what: str, *, extra: str, install: list[str], api_hint: str) -> None:
        commands = " and then ".join(f"`{command}`" for command in install)
        super().__init__(f"{what} is not installed: {commands}. From Python: {api_hint}")
        self.extra = extra
        self.install = list(install)
        self.api_hint = api_hint


def wheel_file(distribution: str, relative: str) -> Path | None:
    """The path of a file an installed wheel ships, found without importing the package.

    (Importing `silero_vad` imports torch and `pipecat` half the world; their model files
    need neither.) None when the distribution or the file is not installed.
    """
    try:
        files = importlib.metadata.files(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files or []:
        if str(file).replace("\\", "/") == relative:
            path = Path(str(file.locate()))
            return path if path.is_file() else None
    return None
