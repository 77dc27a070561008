"""The smart-turn decision adapts to how the talker pauses (issue 11, 2): `PauseHabits`."""

from __future__ import annotations

import numpy as np

from agent.audio import Endpointer, EndpointerConfig
from agent.audio.convert import PCM16
from agent.audio.pause_habits import PauseHabits
from agent.events import UtteranceEnded
from agent.testing import silence, tone
from tests.detectors import LoudIsSpeech


class FairlySure:
    """A stand-in turn model: every pause looks complete, with 0.93 (over the 0.9 commit)."""

    def __init__(self) -> None:
        self.calls = 0

    def probability(self, pcm: PCM16) -> float:
        self.calls += 1
        return 0.93


def test_a_talker_whose_turns_were_cut_gets_a_stricter_commit_and_longer_waits() -> None:
    habits = PauseHabits()
    assert habits.commit_threshold(0.9) == 0.9 and habits.min_wait_s(0.8, 2.0) == 0.8
    habits.committed(speech_end=1.0, at=1.2)
    habits.speech_started(1.6)  # 0.4 s after the commit: that turn was cut in a 0.6 s pause
    assert habits.wary and round(habits.pauses[-1], 6) == 0.6
    assert abs(habits.commit_threshold(0.9) - 0.95) < 1e-9
    habits.kept(0.7)
    assert abs(habits.min_wait_s(0.8, 2.0) - 0.85) < 1e-9  # the longest pause, plus 0.15 s
    habits.kept(1.3)
    assert habits.min_wait_s(0.8, 2.0) == 1.0  # at most 1 s
    assert habits.min_wait_s(0.8, 0.9) == 0.9  # and never past turn_max_wait_s
    for turn in range(6):  # new turns, each long after the last commit: none was cut
        assert habits.wary
        habits.committed(speech_end=5.0 + 4 * turn, at=5.2 + 4 * turn)
        habits.speech_started(8.0 + 4 * turn)
    assert not habits.wary and habits.commit_threshold(0.9) == 0.9


def test_after_one_cut_the_same_pauses_stay_inside_the_turn() -> None:
    turn = [tone(1.0), silence(0.6), tone(0.8), silence(2.5)]
    audio = np.concatenate([silence(0.5), *turn, *turn, *turn])
    config = EndpointerConfig(turn_detector="smart-turn")
    endpointer = Endpointer(config, detector=LoudIsSpeech(), turn_model=FairlySure())
    events = endpointer.feed(audio) + endpointer.flush()
    ended = [event.utterance for event in events if isinstance(event, UtteranceEnded)]
    # the first turn is cut at its pause (0.93 >= 0.9); then the talker's habit is known
    assert [round(u.speech_duration, 1) for u in ended] == [1.0, 0.8, 2.4, 2.4]
    assert endpointer.habits.wary


def test_without_cuts_the_fast_commit_stays() -> None:
    audio = np.concatenate([silence(0.5), tone(1.0), silence(2.5), tone(1.0), silence(2.5)])
    config = EndpointerConfig(turn_detector="smart-turn")
    endpointer = Endpointer(config, detector=LoudIsSpeech(), turn_model=FairlySure())
    events = endpointer.feed(audio) + endpointer.flush()
    ended = [event.utterance for event in events if isinstance(event, UtteranceEnded)]
    assert [round(u.emitted_at - u.end, 2) for u in ended] == [0.18, 0.18]
    assert not endpointer.habits.wary


def test_turn_adapt_false_keeps_the_fixed_rule() -> None:
    turn = [tone(1.0), silence(0.6), tone(0.8), silence(2.5)]
    audio = np.concatenate([silence(0.5), *turn, *turn])
    config = EndpointerConfig(turn_detector="smart-turn", turn_adapt=False)
    endpointer = Endpointer(config, detector=LoudIsSpeech(), turn_model=FairlySure())
    events = endpointer.feed(audio) + endpointer.flush()
    ended = [event.utterance for event in events if isinstance(event, UtteranceEnded)]
    assert [round(u.speech_duration, 1) for u in ended] == [1.0, 0.8, 1.0, 0.8]
    assert endpointer.habits.cuts >= 1 and not endpointer.habits.wary
