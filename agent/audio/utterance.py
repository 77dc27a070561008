"""`Utterance`: one stretch of speech cut out of an audio stream by the endpointer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.audio.convert import PCM16, SAMPLE_RATE, encode_wav

__all__ = ["Utterance"]


@dataclass(frozen=True, eq=False, slots=True)
class Utterance:
    """One utterance: its audio and where it lies in the stream.

    Attributes:
        pcm: 16 kHz mono int16 samples, the pre-roll before `start` included.
        start: seconds into the stream of the first frame judged speech.
        end: seconds into the stream of the end of the last frame judged speech.
        emitted_at: seconds into the stream when the endpointer decided the utterance was over
            (after the end silence, at a cut, or at the end of the stream).
        truncated: True when the utterance was cut at the maximum length while speech went on.
        sample_rate: always 16000.
    """

    pcm: PCM16
    start: float
    end: float
    emitted_at: float
    truncated: bool = False
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        """Length of `pcm` in seconds (pre-roll and trailing margin included)."""
        return int(self.pcm.shape[0]) / float(self.sample_rate)

    @property
    def speech_duration(self) -> float:
        """Seconds from the first to the last frame judged speech (`end - start`)."""
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: where it lies in the stream, in seconds (no samples)."""
        return {
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "emitted_at": self.emitted_at,
            "truncated": self.truncated,
        }

    def to_wav(self) -> bytes:
        """The audio as the bytes of a 16-bit mono WAV file."""
        return encode_wav(self.pcm, self.sample_rate)

    def __repr__(self) -> str:
        return (
            f"Utterance(start={self.start:.2f}, end={self.end:.2f}, "
            f"emitted_at={self.emitted_at:.2f}, duration={self.duration:.2f}"
            f"{', truncated' if self.truncated else ''})"
        )
