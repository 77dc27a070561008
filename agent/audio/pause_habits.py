"""How one talker pauses: the adaptive part of the smart-turn decision.

Like LiveKit's dynamic endpointing, the wait adapts to the talker, on the stream's timeline.
When speech starts again soon after a turn was committed (within `resume_window_s`), that turn
was most likely cut in a pause: the user had not finished. Each such cut makes the short-pause
commit stricter (the remaining doubt is halved per recent cut: 0.9, then 0.95, then 0.975...)
and makes every wait at least as long as this talker's recent pauses, plus a margin (up to
1 s). Each turn that was not cut counts it down by a fifth, so a talker who stops pausing gets
the fast commit back after about six turns.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["PauseHabits"]

_STRICTEST = 0.99  # Smart Turn's outputs stay below this: beyond it the short pause never ends
_MARGIN_S = 0.15
_LONGEST_S = 1.0  # past this the talker waits longer on every turn than the pauses save


class PauseHabits:
    """The talker's recent pauses inside turns, and what they change in the turn decision.

    Args:
        resume_window_s: speech starting this soon after a commit means that turn was cut.
        remembered: how many of the talker's pauses are kept.
        adapt: False: the habits are followed but change nothing in the decision.
    """

    def __init__(
        self, *, resume_window_s: float = 1.0, remembered: int = 8, adapt: bool = True
    ) -> None:
        self.resume_window_s = resume_window_s
        self.adapt = adapt
        self.cuts = 0.0
        """The recent cuts, each turn that was not cut taking a fifth off the count."""
        self.pauses: deque[float] = deque(maxlen=remembered)
        """The talker's recent pauses inside turns, seconds (kept inside, or cut)."""
        self._committed: tuple[float, float] | None = None  # (speech end, commit) of the last turn

    def committed(self, speech_end: float, at: float) -> None:
        """A turn whose speech ended at `speech_end` was committed at `at`."""
        self._committed = (speech_end, at)

    def speech_started(self, at: float) -> None:
        """Speech started at `at`: was the last committed turn cut?"""
        if self._committed is None:
            return
        speech_end, committed = self._committed
        self._committed = None
        if at - committed <= self.resume_window_s:
            self.cuts += 1.0
            self.pauses.append(at - speech_end)
        else:
            self.cuts *= 0.8

    def kept(self, pause_s: float) -> None:
        """A pause of `pause_s` stayed inside a turn (speech resumed before the commit)."""
        self.pauses.append(pause_s)

    @property
    def wary(self) -> bool:
        """Whether this talker's turns were cut recently (the decision is then stricter)."""
        return self.adapt and self.cuts >= 0.3

    def commit_threshold(self, base: float) -> float:
        """The probability needed to end a turn at the short pause."""
        if not self.wary:
            return base
        return min(_STRICTEST, 1.0 - (1.0 - base) * 0.5 ** math.ceil(self.cuts))

    def min_wait_s(self, base: float, longest: float) -> float:
        """The shortest wait for a turn not ended at the short pause: `base`, or, when wary,
        the talker's longest recent pause plus a margin (at most `longest`, and at most 1 s,
        so a turn that was never going on is not kept waiting long)."""
        if not self.wary or not self.pauses:
            return base
        return min(longest, max(base, min(_LONGEST_S, max(self.pauses) + _MARGIN_S)))
