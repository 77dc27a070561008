"""`SpeechQueue`: one reply spoken sentence by sentence as its text arrives; interruptible.

Feed it the reply's text deltas (or whole sentences); it makes them speakable, synthesizes
each sentence while the previous one plays, and plays them in order on a `Speaker`.
`interrupt()` stops synthesis and playback and returns what the user actually heard: up to
the last word played (from word timings, else estimated from the playback position over the
sentence's characters).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.audio.convert import PCM16
from agent.speech.playback import Playback
from agent.speech.speaker import Speaker
from agent.speech.text import SpeakableStream
from agent.speech.voice import Voice, WordTiming

__all__ = [
    "SpeakingFinished",
    "SpeakingInterrupted",
    "SpeakingStarted",
    "SpeechEvent",
    "SpeechQueue",
    "Spoken",
]

_SECONDS_PER_CHARACTER = 0.07
"""Speech length per character, to estimate a sentence still being synthesized."""


@dataclass(frozen=True, slots=True)
class SpeakingStarted:
    """The first audio of a reply was scheduled on the speaker; `text` is its first sentence."""

    text: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"type": "speaking_started", "text": self.text}


@dataclass(frozen=True, slots=True)
class SpeakingFinished:
    """The whole reply was played; `text` is everything said."""

    text: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"type": "speaking_finished", "text": self.text}


@dataclass(frozen=True, slots=True)
class SpeakingInterrupted:
    """The reply was cut short: `heard` is what was played, `text` all that was queued."""

    heard: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"type": "speaking_interrupted", "heard": self.heard, "text": self.text}


SpeechEvent = SpeakingStarted | SpeakingFinished | SpeakingInterrupted


@dataclass(frozen=True, slots=True)
class Spoken:
    """The outcome of a spoken reply: `heard` is what the user heard, `text` all of it."""

    heard: str
    text: str
    interrupted: bool


@dataclass
class _Sentence:
    text: str
    playbacks: list[Playback] = field(default_factory=list)
    words: list[WordTiming] = field(default_factory=list)
    synthesized: bool = False

    def heard(self, samples_per_character: float, rate_ratio: float) -> tuple[str, bool]:
        """The part played so far, and whether that is all of it."""
        played = sum(playback.played for playback in self.playbacks)
        total = sum(playback.samples for playback in self.playbacks)
        if self.synthesized and played >= total:
            return self.text, True
        if not self.synthesized:
            total = max(total, round(len(self.text) * samples_per_character))
        if self.words:  # a word is heard once the next one (or the end) has been reached
            ends = [w.sample * rate_ratio for w in self.words[1:]] + [float(total)]
            spoken = [w for w, end in zip(self.words, ends, strict=True) if end <= played]
            return (self.text[: spoken[-1].end] if spoken else ""), False
        cut = len(self.text) * played / total if total else 0.0
        return _whole_words(self.text, cut), False


def _whole_words(text: str, characters: float) -> str:
    """The words of `text` that end within its first `characters` characters."""
    heard = ""
    for index, character in enumerate(text):
        at_word_end = character.isalnum() and (
            index + 1 == len(text) or not text[index + 1].isalnum()
        )
        if at_word_end and index + 1 <= characters:
            heard = text[: index + 1]
    return heard


class SpeechQueue:
    """Speak one reply on `speaker` with `voice`, sentence by sentence, as text arrives.

    Args:
        voice: the synthesizer.
        speaker: where the audio goes (its rate may differ from the voice's: resampled).
        on_event: called with `SpeakingStarted`, `SpeakingFinished`, `SpeakingInterrupted`.
        split_clauses: synthesize each clause of a sentence on its own (the first audio comes
            sooner with voices that make a whole text at once); None (the default): unless the
            voice streams its sentences itself (a `streams_sentences` attribute that is true,
            as a streamed `PiperVoice` has), so that they keep the prosody of a whole sentence.

    Use: `feed(delta)` for each piece of the reply (or `say(sentence)` for plain sentences),
    `finish()` at its end, then `await wait()`; `await interrupt()` to cut it short.
    """

    def __init__(
        self,
        voice: Voice,
        speaker: Speaker,
        *,
        on_event: Callable[[SpeechEvent], object] | None = None,
        split_clauses: bool | None = None,
    ) -> None:
        self.voice = voice
        if split_clauses is None:
            split_clauses = not getattr(voice, "streams_sentences", False)
        self.split_clauses = split_clauses
        self.speaker = speaker
        self.on_event = on_event
        self._text = SpeakableStream()
        self._sentences: list[_Sentence] = []
        self._inbox: asyncio.Queue[_Sentence | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._finished = False
        self._outcome: Spoken | None = None
        self._started = False

    @property
    def text(self) -> str:
        """Every sentence queued so far."""
        return " ".join(sentence.text for sentence in self._sentences)

    @property
    def speaking(self) -> bool:
        """Whether the reply is still being synthesized or played."""
        return self._worker is not None and not self._worker.done()

    @property
    def sentence_count(self) -> int:
        """Sentences queued so far (a mark for `heard(since=...)`)."""
        return len(self._sentences)

    @property
    def synthesizing(self) -> bool:
        """Whether a queued sentence has not been fully synthesized yet."""
        return self.speaking and not all(s.synthesized for s in self._sentences)

    def feed(self, delta: str) -> None:
        """Add a piece of the reply's text (markdown and all); whole sentences are queued."""
        for sentence in self._text.feed(delta):
            self.say(sentence)

    def say(self, sentence: str) -> None:
        """Queue one speakable sentence."""
        if self._finished:
            raise RuntimeError("this reply is finished: start a new SpeechQueue")
        item = _Sentence(sentence)
        self._sentences.append(item)
        self._inbox.put_nowait(item)
        if self._worker is None:
            self._worker = asyncio.create_task(self._speak_all(), name="speech-queue")

    def flush(self) -> None:
        """Queue the text buffered so far as a sentence of its own (a message ended, though
        the reply goes on: the next text starts a new sentence)."""
        for sentence in self._text.flush(final=False):
            self.say(sentence)

    def finish(self, *, partial: bool = True) -> None:
        """The reply's text is complete: speak what is buffered (not `partial`, for a broken
        reply: only the sentences already known to be whole), then end."""
        if self._finished:
            return
        for sentence in self._text.flush() if partial else []:
            self.say(sentence)
        self._finished = True
        self._inbox.put_nowait(None)
        if self._worker is None:
            self._worker = asyncio.create_task(self._speak_all(), name="speech-queue")

    async def wait(self) -> Spoken:
        """Until everything is played (call `finish` first) or interrupted; the outcome."""
        if self._worker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._worker)
        if self._outcome is None:
            self._outcome = Spoken(self.text, self.text, interrupted=False)
            self._emit(SpeakingFinished(self.text))
        return self._outcome

    def halt(self) -> Spoken:
        """Stop playback and synthesis now, without waiting (e.g. from a barge-in detector);
        what was heard up to the last word played (`SpeakingInterrupted` is sent now)."""
        if self._outcome is not None:
            return self._outcome
        self._finished = True
        self.speaker.stop()  # freezes every playback's `played` where the sound stopped
        if self._worker is not None:
            # No chunk is scheduled after this: the worker only plays between its awaits.
            self._worker.cancel()
        heard = self.heard()
        if heard == self.text:
            self._outcome = Spoken(heard, self.text, interrupted=False)
            self._emit(SpeakingFinished(self.text))
        else:
            self._outcome = Spoken(heard, self.text, interrupted=True)
            self._emit(SpeakingInterrupted(heard, self.text))
        return self._outcome

    async def interrupt(self) -> Spoken:
        """Stop now (synthesis and playback); what was heard up to the last word played."""
        outcome = self.halt()
        if self._worker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        return outcome

    def heard(self, since: int = 0) -> str:
        """What has been played so far, up to the last word played; from sentence `since`
        on (a `sentence_count` taken earlier)."""
        ratio = self.speaker.sample_rate / self.voice.sample_rate
        per_character = self._samples_per_character()
        parts: list[str] = []
        for sentence in self._sentences[since:]:
            part, whole = sentence.heard(per_character, ratio)
            if part:
                parts.append(part)
            if not whole:
                break
        return " ".join(parts)

    def _samples_per_character(self) -> float:
        done = [s for s in self._sentences if s.synthesized and s.playbacks]
        characters = sum(len(s.text) for s in done)
        if not characters:
            return _SECONDS_PER_CHARACTER * self.speaker.sample_rate
        return sum(p.samples for s in done for p in s.playbacks) / characters

    async def _speak_all(self) -> None:
        last: Playback | None = None
        while (sentence := await self._inbox.get()) is not None:
            last = await self._speak(sentence) or last
        if last is not None:
            await last.wait()

    async def _speak(self, sentence: _Sentence) -> Playback | None:
        """Synthesize one sentence clause by clause, scheduling chunks as they come; its last
        playback. A clause (up to a comma, semicolon or colon) is synthesized on its own, so
        a long sentence starts sounding after its first clause, not after all of it."""
        resample = _Resampler(self.voice.sample_rate, self.speaker.sample_rate)
        last: Playback | None = None
        synthesized = 0  # samples of this sentence so far, at the voice's rate
        for offset, clause in (
            _clauses(sentence.text) if self.split_clauses else [(0, sentence.text)]
        ):
            async for chunk in self.voice.synthesize(clause):
                sentence.words += [
                    WordTiming(w.start + offset, w.end + offset, w.sample + synthesized)
                    for w in chunk.words
                ]
                synthesized += chunk.pcm.size
                last = await self._play(sentence, resample(chunk.pcm)) or last
        last = await self._play(sentence, resample.flush()) or last
        sentence.synthesized = True
        return last

    async def _play(self, sentence: _Sentence, pcm: PCM16) -> Playback | None:
        if not pcm.size:
            return None
        playback = await self.speaker.play(pcm)
        sentence.playbacks.append(playback)
        if not self._started:
            self._started = True
            self._emit(SpeakingStarted(sentence.text))
        return playback

    def _emit(self, event: SpeechEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)


_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+")


def _clauses(text: str) -> list[tuple[int, str]]:
    """The clauses of a sentence, each with its offset in it ("1,000" is not cut)."""
    pieces: list[tuple[int, str]] = []
    start = 0
    for match in _CLAUSE_BREAK.finditer(text):
        pieces.append((start, text[start : match.start()]))
        start = match.end()
    pieces.append((start, text[start:]))
    return [(offset, piece) for offset, piece in pieces if piece.strip()]


class _Resampler:
    """A streaming resampler between two rates (none when they are equal)."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        self._stream: Any = None
        if source_rate != target_rate:
            import soxr

            self._stream = soxr.ResampleStream(source_rate, target_rate, 1, dtype="int16")

    def __call__(self, pcm: PCM16) -> PCM16:
        if self._stream is None:
            return pcm
        return np.asarray(self._stream.resample_chunk(pcm), dtype=np.int16).reshape(-1)

    def flush(self) -> PCM16:
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        return np.asarray(
            self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True), dtype=np.int16
        ).reshape(-1)
