"""Barge-in: the user speaking over the assistant, told apart from a click or a cough.

`BargeInDetector` is clock-free, like the endpointer: it is fed the speech decision of each
frame (the endpointer's `on_frame` hook gives them) and fires once speech has lasted
`min_speech_s`, with gaps shorter than `max_gap_s` bridged (stop consonants).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["BARGE_IN_SPEECH_S", "BargeInDetector"]

BARGE_IN_SPEECH_S = 0.2
"""Speech needed before the assistant stops talking: as long as the shortest utterance the
endpointer keeps (a quick "no" or "stop" lasts 0.21-0.3 s); a click or a cough is shorter,
and at 0.2 s the playback stops about a quarter of a second after the user's first word."""

_MAX_GAP_S = 0.09


class BargeInDetector:
    """Calls `on_barge_in` once speech has lasted `min_speech_s` (once per stretch of speech,
    or until it says it stopped something).

    Args:
        frame_s: the length of one frame, in seconds.
        on_barge_in: called (from `feed`) when the speech has lasted long enough; it says
            whether it stopped anything (False: it is called again on the next speech frame,
            e.g. once the assistant starts talking while the user still speaks).
        min_speech_s: speech needed, in seconds.
        max_gap_s: non-speech within a stretch that does not end it.
    """

    def __init__(
        self,
        frame_s: float,
        on_barge_in: Callable[[], bool],
        *,
        min_speech_s: float = BARGE_IN_SPEECH_S,
        max_gap_s: float = _MAX_GAP_S,
    ) -> None:
        if frame_s <= 0 or min_speech_s <= 0 or max_gap_s < 0:
            raise ValueError("frame_s and min_speech_s must be above 0, max_gap_s at least 0")
        self.frame_s = frame_s
        self.on_barge_in = on_barge_in
        self.min_speech_s = min_speech_s
        self.max_gap_s = max_gap_s
        self._speech = 0.0
        self._gap = 0.0
        self._fired = False

    def feed(self, is_speech: bool) -> None:
        """One frame's decision."""
        if is_speech:
            self._speech += self.frame_s
            self._gap = 0.0
        else:
            self._gap += self.frame_s
            if self._gap > self.max_gap_s + 1e-9:
                self._speech = 0.0
                self._fired = False
        if is_speech and not self._fired and self._speech >= self.min_speech_s - 1e-9:
            self._fired = self.on_barge_in()

    def hook(self, level_dbfs: float, is_speech: bool) -> None:
        """`feed` with the endpointer's `on_frame` signature."""
        self.feed(is_speech)
