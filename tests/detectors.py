"""A stand-in speech detector for synthetic audio, shared by the endpointer and loop tests."""

from __future__ import annotations

from agent.audio import level_dbfs
from agent.audio.convert import PCM16

__all__ = ["LoudIsSpeech"]


class LoudIsSpeech:
    """A detector that calls every frame louder than -40 dBFS speech (no model, exact).

    It counts the frames it judged and its resets, for tests of who calls it when.
    """

    def __init__(self) -> None:
        self.frames = 0
        self.resets = 0

    def is_speech(self, frame: PCM16) -> bool:
        self.frames += 1
        return level_dbfs(frame) > -40.0

    def reset(self) -> None:
        self.resets += 1
