"""Optional parts of the audio layer (Silero VAD, Smart Turn): finding their files, and saying
how to install them when they are missing."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from agent.errors import VoxagentError

__all__ = ["MissingExtraError", "wheel_file", "wheel_model"]


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


_MODELS = {
    # extra: (wheel, the model file in it, what it is, what a Python caller can do instead)
    "silero": (
        "silero-vad",
        "silero_vad/data/silero_vad.onnx",
        "Silero VAD",
        "SileroVad(model_path=...) takes a silero_vad.onnx file you have",
    ),
    "turn": (
        "pipecat-ai",
        "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
        "Smart Turn v3.2 (the smart-turn turn detector)",
        "SmartTurn(model_path=...) takes a smart-turn-v3.2-cpu.onnx file you have",
    ),
}


def wheel_model(extra: str) -> Path:
    """The model file of an extra whose wheel is installed with ``--no-deps`` ("silero", "turn").

    Raises:
        MissingExtraError: the wheel is not installed; the message says how to install it.
    """
    distribution, relative, what, api_hint = _MODELS[extra]
    path = wheel_file(distribution, relative)
    if path is None:
        install = [f"pip install 'voxtral-agent[{extra}]'", f"pip install --no-deps {distribution}"]
        raise MissingExtraError(what, extra=extra, install=install, api_hint=api_hint)
    return path
