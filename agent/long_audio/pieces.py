"""Cutting a long recording into pieces the server accepts, at silences.

The endpointer runs over the recording as it streams from disk and reports where speech is
(`Region`s); pieces are made of whole regions, so a cut always falls in a pause between them,
never inside a word. Long pauses inside a piece are shortened to `max_gap_s` in the audio that
is sent (their tokens carry nothing), and a piece holds no leading or trailing silence, so
a recording that is mostly silence costs only its speech. Only region times are kept (a few
numbers per utterance): memory does not grow with the recording's length.

Among the cuts that keep a piece under `max_seconds`, the planner prefers long pieces whose
length fills their last 30 s block of audio tokens (Voxtral pads every started 30 s to 375
tokens), so little padding is paid for.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from agent.audio.endpointer import Endpointer, EndpointerConfig
from agent.audio.events import SpeechStarted, UtteranceDropped, UtteranceEnded
from agent.limits import AUDIO_TOKENS_PER_30S, MAX_AUDIO_SECONDS, audio_tokens
from agent.long_audio.recording import Recording, Span

__all__ = [
    "DEFAULT_PIECE_SECONDS",
    "MAX_GAP_S",
    "PLANNING_ENDPOINTER",
    "Piece",
    "Region",
    "longest_piece_seconds",
    "plan_pieces",
    "plan_transcription",
    "speech_regions",
]

DEFAULT_PIECE_SECONDS = 300.0
"""The longest piece a transcription sends by default (bench/long_audio.py measures why):
5-minute pieces pay under 3 % padding, give the model minutes of context, and still let a
30-minute recording go as 6 concurrent requests."""

PLANNING_ENDPOINTER = EndpointerConfig(silence_end_s=0.4, min_utterance_s=0.05)
"""The endpointer's settings for finding speech in a recording: a pause of 0.4 s (between
phrases, never inside a word) separates two regions, and even a very short word counts."""

MAX_GAP_S = 1.0
"""Pauses longer than this inside a piece are shortened to it in the audio sent (default)."""
_EDGE_S = 0.5
"""Audio kept before a piece's first and after its last speech (at most half the pause)."""
_TRANSCRIPT_TOKENS_PER_S = 5.0
"""Tokens kept free for the transcript of a second of audio: 225 words a minute of English
in Voxtral's tokenizer, more than fast talkers say."""
_PROMPT_TOKENS = 64
"""The transcription prompt's tokens besides the audio (markers, language)."""
_FILL_TOLERANCE = 0.02
"""Cuts whose block fill is this close to the best one count as equally good (the longest
of them is taken)."""


@dataclass(frozen=True, slots=True)
class Region:
    """Where the endpointer heard speech: from its first to the end of its last speech frame."""

    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Piece:
    """One request's worth of a recording.

    Attributes:
        index: its number, from 0, in the recording's order.
        spans: the time ranges of the recording its audio is made of (seconds, in order);
            pauses between them were shortened.
        speech_start, speech_end: its first and last speech, seconds into the recording.
        covers: the stretch of the recording it stands for, up to the next piece (for
            progress: every second of the recording is covered by exactly one piece).
    """

    index: int
    spans: tuple[Span, ...]
    speech_start: float
    speech_end: float
    covers: Span

    @property
    def duration(self) -> float:
        """Seconds of audio sent."""
        return sum(end - start for start, end in self.spans)

    @property
    def tokens(self) -> int:
        """Prompt tokens its audio costs as one item."""
        return audio_tokens(self.duration)


def longest_piece_seconds(
    max_model_len: int | None, *, reply_tokens_per_second: float = _TRANSCRIPT_TOKENS_PER_S
) -> float:
    """The longest piece (a whole number of 30 s blocks, at most 600 s) whose audio and its
    transcript fit a server with `max_model_len` tokens (None: no context limit known)."""
    blocks = int(MAX_AUDIO_SECONDS // 30)
    if max_model_len is None:
        return blocks * 30.0
    while blocks > 1:
        seconds = blocks * 30.0
        needed = AUDIO_TOKENS_PER_30S * blocks + reply_tokens_per_second * seconds + _PROMPT_TOKENS
        if needed <= max_model_len:
            break
        blocks -= 1
    return blocks * 30.0


def plan_transcription(
    recording: Recording,
    max_model_len: int | None,
    *,
    max_piece_seconds: float | None,
    shorten_pauses: bool,
) -> tuple[float, Iterator[Piece]]:
    """The longest piece a transcription of `recording` may send on this server, and its
    pieces: the recording as it is when it fits one piece, else `plan_pieces` (pauses over
    `MAX_GAP_S` shortened unless `shorten_pauses` is False)."""
    limit = min(longest_piece_seconds(max_model_len), max_piece_seconds or DEFAULT_PIECE_SECONDS)
    limit = max(30.0, limit)
    if recording.duration <= limit:  # one request with the recording as it is
        end = recording.duration
        return limit, iter([Piece(0, ((0.0, end),), 0.0, end, (0.0, end))])
    return limit, plan_pieces(recording, limit, max_gap_s=MAX_GAP_S if shorten_pauses else None)


def speech_regions(
    recording: Recording, config: EndpointerConfig | None = None
) -> Iterator[Region]:
    """Where speech is in `recording`, in order, as the endpointer streams it (blocking).

    An utterance the endpointer cut at its maximum length goes on in the next region, with no
    pause between them.
    """
    endpointer = Endpointer(config or PLANNING_ENDPOINTER)
    for block in recording.blocks():
        yield from _regions(endpointer.feed(block))
    yield from _regions(endpointer.flush())


def _regions(events: Sequence[object]) -> Iterator[Region]:
    for event in events:
        if isinstance(event, UtteranceEnded | UtteranceDropped):
            yield Region(event.utterance.start, event.utterance.end)
        elif not isinstance(event, SpeechStarted):  # pragma: no cover (no other kinds)
            raise TypeError(f"unexpected endpointer event {event!r}")


def plan_pieces(
    recording: Recording,
    max_seconds: float = DEFAULT_PIECE_SECONDS,
    *,
    regions: Iterator[Region] | None = None,
    config: EndpointerConfig | None = None,
    max_gap_s: float | None = MAX_GAP_S,
) -> Iterator[Piece]:
    """The pieces of `recording`, each at most `max_seconds` of audio, cut at pauses (blocking;
    pieces come out while the recording is still being read).

    Args:
        recording: the recording.
        max_seconds: the longest piece (at least 30 s).
        regions: where speech is (default: `speech_regions(recording, config)`).
        config: the endpointer's settings for finding speech.
        max_gap_s: pauses longer than this inside a piece are shortened to it in the audio
            sent; None keeps them (a piece's audio is then its stretch of the recording, as
            subtitles need: a cue is a piece).
    """
    if max_seconds < 30.0:
        raise ValueError(f"max_seconds must be at least 30 s, got {max_seconds}")
    if regions is None:
        # A region is at most one utterance the endpointer cut at its maximum length: keep it
        # shorter than a piece, with room for the piece's edges.
        limit = min(30.0, max_seconds - 2 * _EDGE_S)
        base = config or PLANNING_ENDPOINTER
        regions = speech_regions(recording, base.with_overrides(max_utterance_s=limit))
    planner = _Planner(max_seconds, recording.duration, max_gap_s)
    for region in regions:
        yield from planner.add(region)
    yield from planner.finish()


class _Planner:
    """Groups regions into pieces as they come; holds only the regions of the open piece."""

    def __init__(self, max_seconds: float, duration: float, max_gap: float | None) -> None:
        self.max_seconds = max_seconds
        self.max_gap = max_gap
        self.duration = duration
        self.pending: list[Region] = []
        self.index = 0
        self.covered = 0.0  # where the previous piece's stretch ended
        self.floor = 0.0  # no audio before this (the previous piece's last second sent)

    def _len(self, regions: Sequence[Region]) -> float:
        return _length(regions, self.max_gap)

    def add(self, region: Region) -> Iterator[Piece]:
        self.pending.append(region)
        while len(self.pending) > 1 and self._len(self.pending) > self.max_seconds:
            yield self._close(self._best_cut())

    def finish(self) -> Iterator[Piece]:
        while self.pending:
            cut = len(self.pending) if self._len(self.pending) <= self.max_seconds else None
            yield self._close(cut if cut is not None else self._best_cut())

    def _best_cut(self) -> int:
        """How many pending regions the next piece takes: a cut at a real pause that keeps it
        under the limit with its last token block best filled (then the longest such)."""
        fits = [
            n
            for n in range(1, len(self.pending))
            if self._len(self.pending[:n]) <= self.max_seconds
        ]
        if not fits:  # pragma: no cover (a region is always shorter than a piece)
            return 1
        paused = [n for n in fits if self.pending[n].start > self.pending[n - 1].end] or fits
        long_enough = [n for n in paused if self._len(self.pending[:n]) >= self.max_seconds / 2]
        candidates = long_enough or paused
        fill = {n: _fill(self._len(self.pending[:n])) for n in candidates}
        best = max(fill.values())
        return max(n for n in candidates if fill[n] >= best - _FILL_TOLERANCE)

    def _close(self, count: int) -> Piece:
        taken, self.pending = self.pending[:count], self.pending[count:]
        after = self.pending[0].start if self.pending else self.duration
        spans = _spans(taken, self.max_gap, floor=self.floor, ceiling=after, duration=self.duration)
        covers_end = self.duration if not self.pending else spans[-1][1]
        piece = Piece(
            index=self.index,
            spans=spans,
            speech_start=taken[0].start,
            speech_end=taken[-1].end,
            covers=(self.covered, covers_end),
        )
        self.index += 1
        self.covered = covers_end
        self.floor = spans[-1][1]
        return piece


def _spans(
    regions: Sequence[Region],
    max_gap: float | None,
    *,
    floor: float,
    ceiling: float,
    duration: float,
) -> tuple[Span, ...]:
    """The audio sent for `regions`: each with its edges, pauses over `max_gap` shortened;
    never before `floor` (the previous piece) nor into the next piece's pause half."""
    first = regions[0]
    start = max(floor, first.start - _EDGE_S, 0.0)
    spans: list[Span] = []
    for previous, region in itertools.pairwise(regions):
        gap = region.start - previous.end
        if max_gap is not None and gap > max_gap:
            spans.append((start, previous.end + max_gap / 2))
            start = region.start - max_gap / 2
    last = regions[-1]
    room = (ceiling - last.end) / 2 if ceiling < duration else duration - last.end
    spans.append((start, min(duration, last.end + max(0.0, min(_EDGE_S, room)))))
    return tuple(spans)


def _length(regions: Sequence[Region], max_gap: float | None) -> float:
    """Seconds of audio the regions make as one piece (edges and shortened pauses included)."""
    total = regions[-1].end - regions[0].start + 2 * _EDGE_S
    for previous, region in itertools.pairwise(regions):
        gap = region.start - previous.end
        if max_gap is not None and gap > max_gap:
            total -= gap - max_gap
    return total


def _fill(seconds: float) -> float:
    """How full the piece's token blocks are (1.0: a whole number of 30 s blocks)."""
    return seconds / (30.0 * max(1, math.ceil(seconds / 30.0 - 1e-9)))
