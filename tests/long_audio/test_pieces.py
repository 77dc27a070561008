"""The planner: pieces cut at pauses, under the limits, covering the recording."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.limits import MAX_AUDIO_SECONDS, audio_tokens
from agent.long_audio import Piece, Recording, longest_piece_seconds, plan_pieces
from tests.long_audio.recordings import Burst, write_recording


def test_pieces_hold_whole_bursts_in_order_under_the_limit(
    marked: tuple[Path, list[Burst]],
) -> None:
    path, bursts = marked
    recording = Recording(path)
    pieces = list(plan_pieces(recording, 30.0))
    assert len(pieces) >= 3
    assert [piece.index for piece in pieces] == list(range(len(pieces)))
    spans = [span for piece in pieces for span in piece.spans]
    assert all(start < end for start, end in spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # in order, apart
    assert all(piece.duration <= 30.0 for piece in pieces)
    for burst in bursts:  # every burst of speech lies whole inside exactly one piece's audio
        holders = [
            p for p in pieces if any(s <= burst.start and burst.end <= e for s, e in p.spans)
        ]
        assert len(holders) == 1, burst
    covers = [piece.covers for piece in pieces]
    assert covers[0][0] == 0.0 and covers[-1][1] == pytest.approx(recording.duration)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covers))


def test_long_pauses_are_shortened_and_padding_stays_small(
    marked: tuple[Path, list[Burst]],
) -> None:
    path, bursts = marked
    pieces = list(plan_pieces(Recording(path), 300.0))
    speech = sum(burst.end - burst.start for burst in bursts)
    sent = sum(piece.duration for piece in pieces)
    assert sent < 2 * speech < Recording(path).duration  # pauses of 2-20 s cost 1 s each
    for piece in pieces:
        for (_, end), (start, _) in zip(piece.spans, piece.spans[1:], strict=False):
            assert start - end > 1.0  # a cut pause: the audio between was left out


def test_a_silent_recording_has_no_pieces(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000 * 700, dtype=np.int16), 16000)
    assert list(plan_pieces(Recording(path))) == []


def test_speech_without_pauses_is_cut_at_the_limit_anyway(tmp_path: Path) -> None:
    """Continuous speech (bursts 0.25 s apart) still makes pieces the server accepts."""
    path = tmp_path / "talk.wav"
    write_recording(path, seconds=200, gaps=(0.25, 0.3), talk=(3, 3), seed=5)
    pieces = list(plan_pieces(Recording(path), 60.0))
    assert len(pieces) >= 3 and all(piece.duration <= 60.0 for piece in pieces)


def test_the_longest_piece_fits_the_context() -> None:
    assert longest_piece_seconds(None) == MAX_AUDIO_SECONDS
    assert longest_piece_seconds(32768) == MAX_AUDIO_SECONDS
    seconds = longest_piece_seconds(4096)
    assert seconds == 210.0
    assert (
        audio_tokens(seconds) + 5 * seconds + 64
        <= 4096
        < audio_tokens(seconds + 30) + 5 * (seconds + 30)
    )


def test_plan_pieces_needs_a_real_limit(marked: tuple[Path, list[Burst]]) -> None:
    with pytest.raises(ValueError, match="at least 30 s"):
        next(plan_pieces(Recording(marked[0]), 10.0))


def test_a_piece_knows_its_tokens() -> None:
    piece = Piece(0, ((0.0, 29.0), (40.0, 42.0)), 0.5, 41.5, (0.0, 50.0))
    assert piece.duration == 31.0 and piece.tokens == 2 * 376
