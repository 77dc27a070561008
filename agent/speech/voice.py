"""The `Voice` protocol: one piece of text in, 16-bit mono PCM chunks out, as they are made."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from agent.audio.convert import PCM16

__all__ = ["NoVoice", "SpeechChunk", "Voice", "WordTiming"]


@dataclass(frozen=True, slots=True)
class WordTiming:
    """Where one word of the synthesized text starts in the audio.

    `start` and `end` index the text given to `Voice.synthesize`; `sample` is the first sample
    of the word, counted from the start of that text's audio.
    """

    start: int
    end: int
    sample: int


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    """A run of synthesized audio: `pcm` is mono int16 at the voice's `sample_rate`.

    `words` holds the timings of the words that start in this chunk, where the engine gives
    them (empty otherwise); their `sample` counts from the start of the whole text.
    """

    pcm: PCM16
    words: tuple[WordTiming, ...] = field(default=())


@runtime_checkable
class Voice(Protocol):
    """A speech synthesizer: `synthesize(text)` yields `SpeechChunk`s as soon as each is made.

    Synthesis never blocks the event loop. Closing the iterator early (cancellation, `aclose`,
    leaving an `async for`) stops the engine.
    """

    @property
    def name(self) -> str:
        """What to call the voice in messages and listings (e.g. `piper:en_US-lessac-medium`)."""
        ...

    @property
    def sample_rate(self) -> int:
        """The rate of the PCM this voice makes, in Hz."""
        ...

    def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        """The audio of `text` (one sentence or a few), chunk by chunk."""
        ...


class NoVoice:
    """Text only: a voice that says nothing (`--voice none`)."""

    name = "none"
    sample_rate = 16_000

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        """Yields nothing."""
        for _ in ():
            yield SpeechChunk(np.zeros(0, dtype=np.int16))

    def __repr__(self) -> str:
        return "NoVoice()"
