"""`BargeInDetector`: speech that lasts interrupts; clicks and coughs do not (clock-free)."""

from __future__ import annotations

import pytest

from agent.speech import BARGE_IN_SPEECH_S, BargeInDetector


def frames(detector: BargeInDetector, pattern: str) -> None:
    for mark in pattern:
        detector.feed(mark == "#")


def test_it_fires_once_speech_lasted_long_enough() -> None:
    fired: list[int] = []
    detector = BargeInDetector(0.03, lambda: fired.append(1) is None)
    frames(detector, "#" * 6)  # 180 ms
    assert fired == []
    frames(detector, "#")  # 210 ms
    assert fired == [1]
    frames(detector, "#" * 20)
    assert fired == [1]  # once per stretch of speech


def test_short_sounds_and_gaps_reset_it() -> None:
    fired: list[int] = []
    detector = BargeInDetector(0.03, lambda: fired.append(1) is None)
    frames(detector, "####....####....####")  # clicks with pauses: never 0.2 s
    assert fired == []
    frames(detector, "###.####")  # a stop consonant's gap is bridged
    assert fired == [1]


def test_it_tries_again_while_nothing_was_stopped() -> None:
    answers = iter([False, False, True])
    calls: list[int] = []

    def stop() -> bool:
        calls.append(1)
        return next(answers)

    detector = BargeInDetector(0.03, stop)
    frames(detector, "#" * 12)
    assert len(calls) == 3  # on each speech frame once long enough, until it stopped something


def test_bad_settings_are_refused() -> None:
    assert round(BARGE_IN_SPEECH_S, 3) == 0.2
    with pytest.raises(ValueError, match="frame_s"):
        BargeInDetector(0.0, lambda: True)
