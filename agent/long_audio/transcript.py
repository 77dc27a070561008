"""`Transcript`: the text of a recording with its segments on the recording's timeline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Segment", "SubtitleFormat", "Transcript"]

SubtitleFormat = Literal["srt", "vtt"]


@dataclass(frozen=True, slots=True)
class Segment:
    """What was said in one piece of the recording.

    Attributes:
        start, end: seconds into the recording of the piece's first and last speech.
        text: its transcript.
        index: the piece's number, from 0.
    """

    start: float
    end: float
    text: str
    index: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"index": self.index, "start": self.start, "end": self.end, "text": self.text}


class Transcript(str):
    """The transcript of a recording: a `str` (the text) with segments and the language.

    It is the text itself, so code that used the plain string `Agent.transcribe` returned
    keeps working; `segments` say when each part was said.

    Attributes:
        segments: one per piece sent, in order, with times on the recording's timeline (vLLM
            gives no timestamps inside a piece for Voxtral: a segment is a piece).
        language: the language asked for (None: the model detected it, and vLLM does not
            report which).
        duration: the recording's length in seconds.
    """

    segments: tuple[Segment, ...]
    language: str | None
    duration: float

    def __new__(
        cls,
        segments: Sequence[Segment] = (),
        *,
        language: str | None = None,
        duration: float = 0.0,
    ) -> Transcript:
        text = " ".join(segment.text.strip() for segment in segments if segment.text.strip())
        made = super().__new__(cls, text)
        made.segments = tuple(segments)
        made.language = language
        made.duration = duration
        return made

    @property
    def text(self) -> str:
        """The text, as a plain `str`."""
        return str.__str__(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: text, language, duration and segments."""
        return {
            "text": self.text,
            "language": self.language,
            "duration": self.duration,
            "segments": [segment.to_dict() for segment in self.segments],
        }

    def to_json(self) -> str:
        """`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def to_subtitles(self, format: SubtitleFormat) -> str:
        """The segments as an SRT or WebVTT file (built with pysubs2); empty segments left out."""
        import pysubs2

        subtitles = pysubs2.SSAFile()
        for segment in self.segments:
            if segment.text.strip():
                subtitles.append(
                    pysubs2.SSAEvent(
                        start=round(segment.start * 1000),
                        end=max(round(segment.end * 1000), round(segment.start * 1000) + 1),
                        text=segment.text.strip().replace("\n", "\\N"),
                    )
                )
        return subtitles.to_string(format)

    def __repr__(self) -> str:
        return (
            f"Transcript({self.text[:40]!r}{'…' if len(self) > 40 else ''}, "
            f"{len(self.segments)} segment(s), language={self.language!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.segments, self.language, self.duration))


def _rebuild(segments: tuple[Segment, ...], language: str | None, duration: float) -> Transcript:
    return Transcript(segments, language=language, duration=duration)
