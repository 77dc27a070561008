"""`segment`: the endpointer over a whole file or array, offline."""

from __future__ import annotations

import os

import numpy.typing as npt

from agent.audio.convert import decode_audio, require_rate, to_pcm16
from agent.audio.endpointer import Endpointer, EndpointerConfig
from agent.audio.events import EndpointerEvent, UtteranceEnded
from agent.audio.sources import FileReader
from agent.audio.utterance import Utterance

__all__ = ["segment"]

_BLOCK_FRAMES = 65_536
"""File frames read at once (at any rate): bounds memory, whatever the file's length."""


def segment(  # 40+ lines, half of them its docstring
    audio: str | os.PathLike[str] | bytes | npt.ArrayLike,
    sample_rate: int | None = None,
    *,
    endpointer: Endpointer | None = None,
    config: EndpointerConfig | None = None,
    **overrides: float | int | str | None,
) -> list[Utterance]:
    """Cut a file (path or bytes) or an array into utterances, with the live endpointer.

    Files are streamed block by block, never loaded whole. Utterances dropped as too short are
    not returned. Blocking: from async code, run it off the loop
    (`tools._threads.run_blocking`).

    Args:
        audio: a path, the bytes of a file, or samples of shape `(n,)` / `(n, channels)`.
        sample_rate: the rate of an array, in Hz (required for arrays); not used for files.
        endpointer: the endpointer to use (it is reset first); default: a new one.
        config, overrides: settings for a new endpointer (see `EndpointerConfig`); e.g.
            ``turn_detector="smart-turn"`` returns whole turns (pauses judged mid-turn inside
            them), each with `emitted_at` the moment the turn was committed.
    """
    if endpointer is None:
        endpointer = Endpointer((config or EndpointerConfig()).with_overrides(**overrides))
    elif config is not None or overrides:
        raise TypeError("pass either an endpointer or settings for a new one, not both")
    endpointer.reset()
    events: list[EndpointerEvent] = []
    if isinstance(audio, str | os.PathLike):
        reader = FileReader(audio, block_frames=_BLOCK_FRAMES)
        try:
            for block in reader:
                events.extend(endpointer.feed(block))
        finally:
            reader.close()
    else:
        if isinstance(audio, bytes | bytearray | memoryview):
            pcm = decode_audio(bytes(audio))
        else:
            rate = require_rate(sample_rate, name="segment input")
            pcm = to_pcm16(audio, rate, name="segment input")
        events.extend(endpointer.feed(pcm))
    events.extend(endpointer.flush())
    return [event.utterance for event in events if isinstance(event, UtteranceEnded)]
