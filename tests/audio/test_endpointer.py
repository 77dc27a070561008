"""The endpointer state machine on synthetic audio, with a level-based stand-in detector."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
import soundfile as sf

from agent.audio import (
    Endpointer,
    EndpointerConfig,
    SileroVad,
    TwoStageVad,
    Utterance,
    WebRtcVad,
    segment,
)
from agent.audio.convert import PCM16
from agent.events import SpeechStarted, UtteranceDropped, UtteranceEnded
from tests.audio.corpus import Corpus
from tests.detectors import LoudIsSpeech

RATE = 16_000
FRAME = 0.03


def tone(seconds: float, dbfs: float = -20.0) -> PCM16:
    t = np.arange(round(seconds * RATE)) / RATE
    amplitude = 10 ** (dbfs / 20) * np.sqrt(2) * 32767
    return np.round(amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def silence(seconds: float) -> PCM16:
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def run(audio: PCM16, **settings: float) -> list[object]:
    endpointer = Endpointer(detector=LoudIsSpeech(), **settings)
    return [*endpointer.feed(audio), *endpointer.flush()]


def utterances(events: list[object]) -> list[Utterance]:
    return [e.utterance for e in events if isinstance(e, UtteranceEnded)]


def test_defaults_are_named_and_documented() -> None:
    config = EndpointerConfig()
    assert config.frame_ms == 30
    assert config.vad == "webrtc"
    assert config.max_utterance_s == 30.0
    assert config.frame_samples == 480
    assert "silence_end_s" in (EndpointerConfig.__doc__ or "")


def test_silence_gives_nothing() -> None:
    assert run(silence(3.0)) == []


def test_one_utterance_start_end_and_emission_time() -> None:
    audio = np.concatenate([silence(0.99), tone(1.5), silence(1.5)])
    events = run(audio, silence_end_s=0.6)
    assert [type(e) for e in events] == [SpeechStarted, UtteranceEnded]
    assert isinstance(events[0], SpeechStarted)
    assert events[0].at == pytest.approx(0.99)
    (u,) = utterances(events)
    assert u.start == pytest.approx(0.99)
    assert u.end == pytest.approx(2.49)
    # decided after silence_end_s of silence frames
    assert u.emitted_at == pytest.approx(2.49 + 0.6)
    assert u.sample_rate == 16000
    assert u.pcm.dtype == np.int16


def test_pcm_holds_pre_roll_speech_and_tail() -> None:
    audio = np.concatenate([silence(0.99), tone(1.5), silence(1.5)])
    (u,) = utterances(run(audio, pre_roll_s=0.3, tail_s=0.15))
    assert u.duration == pytest.approx(0.3 + 1.5 + 0.15)
    first = round((0.99 - 0.3) * RATE)
    assert np.array_equal(u.pcm, audio[first : first + u.pcm.size])


def test_pre_roll_is_limited_by_the_start_of_the_stream() -> None:
    audio = np.concatenate([silence(0.09), tone(0.99), silence(1.0)])
    (u,) = utterances(run(audio, pre_roll_s=0.5, tail_s=0.0))
    assert u.start == pytest.approx(0.09)
    assert u.duration == pytest.approx(1.08)


def test_speech_shorter_than_speech_start_never_starts() -> None:
    audio = np.concatenate([silence(0.3), tone(0.12), silence(1.0)])
    assert run(audio, speech_start_s=0.15) == []


def test_sparse_blips_never_start_speech() -> None:
    # one speech frame in three: never 5 speech frames within 10
    blips = [np.concatenate([tone(0.03), silence(0.06)]) for _ in range(20)]
    assert run(np.concatenate([*blips, silence(1.0)]), speech_start_s=0.15) == []


def test_short_gaps_do_not_delay_the_start() -> None:
    # stop consonants: speech, a 1-frame gap, speech...
    choppy = [np.concatenate([tone(0.06), silence(0.03)]) for _ in range(10)]
    audio = np.concatenate([silence(0.3), *choppy, silence(1.0)])
    events = run(audio, speech_start_s=0.15)
    assert isinstance(events[0], SpeechStarted)
    assert events[0].at == pytest.approx(0.3)


def test_a_short_first_word_before_a_pause_belongs_to_the_utterance() -> None:
    # "What ... time is it": 3 speech frames, a 6-frame pause, then speech
    audio = np.concatenate([silence(0.6), tone(0.09), silence(0.18), tone(0.6), silence(1.0)])
    events = run(audio, speech_start_s=0.15)
    assert isinstance(events[0], SpeechStarted)
    assert events[0].at == pytest.approx(0.6)


def test_speech_long_before_is_not_pulled_in() -> None:
    # a blip, then 0.45 s (more than twice speech_start_s) of silence: not the same utterance
    audio = np.concatenate([silence(0.6), tone(0.06), silence(0.45), tone(0.6), silence(1.0)])
    events = run(audio, speech_start_s=0.15)
    assert isinstance(events[0], SpeechStarted)
    assert events[0].at == pytest.approx(1.11)


def test_speech_start_setting_moves_the_start_decision() -> None:
    audio = np.concatenate([silence(0.3), tone(0.6), silence(1.0)])
    endpointer = Endpointer(detector=LoudIsSpeech(), speech_start_s=0.3)
    events = endpointer.feed(audio[: round(0.57 * RATE)])
    assert events == []  # 0.27 s of speech so far
    events = endpointer.feed(audio[round(0.57 * RATE) : round(0.6 * RATE)])
    assert events == [SpeechStarted(at=pytest.approx(0.3))]


def test_pauses_shorter_than_silence_end_stay_inside_one_utterance() -> None:
    audio = np.concatenate([tone(0.6), silence(0.51), tone(0.6), silence(1.0)])
    (u,) = utterances(run(audio, silence_end_s=0.6))
    assert u.start == pytest.approx(0.0)
    assert u.end == pytest.approx(1.71)


def test_silence_end_setting_splits_at_longer_pauses() -> None:
    audio = np.concatenate([tone(0.6), silence(0.51), tone(0.6), silence(1.0)])
    found = utterances(run(audio, silence_end_s=0.3))
    assert [(u.start, u.end) for u in found] == [
        (pytest.approx(0.0), pytest.approx(0.6)),
        (pytest.approx(1.11), pytest.approx(1.71)),
    ]
    assert found[0].emitted_at == pytest.approx(0.9)


def test_too_short_utterance_is_reported_dropped() -> None:
    audio = np.concatenate([silence(0.3), tone(0.18), silence(1.0)])
    events = run(audio, speech_start_s=0.15, min_utterance_s=0.25)
    assert [type(e) for e in events] == [SpeechStarted, UtteranceDropped]
    dropped = events[1]
    assert isinstance(dropped, UtteranceDropped)
    assert "too short" in dropped.reason
    assert dropped.utterance.speech_duration == pytest.approx(0.18)


def test_long_speech_is_cut_at_max_utterance_and_goes_on() -> None:
    audio = np.concatenate([silence(0.3), tone(4.98), silence(1.0)])
    events = run(audio, max_utterance_s=2.0, pre_roll_s=0.3)
    found = utterances(events)
    assert len(found) == 3
    assert all(u.duration <= 2.0 + 1e-9 for u in found)
    assert [u.truncated for u in found] == [True, True, False]
    assert sum(isinstance(e, SpeechStarted) for e in events) == 3
    # together the pieces hold the whole speech, without overlap or gap
    assert found[0].start == pytest.approx(0.3)
    assert found[1].start == pytest.approx(found[0].emitted_at)
    assert found[2].end == pytest.approx(5.28)
    joined = np.concatenate([u.pcm for u in found])
    assert np.array_equal(joined[: round(5.28 * RATE)], audio[: round(5.28 * RATE)])


def test_a_short_remainder_after_a_cut_is_kept() -> None:
    audio = np.concatenate([tone(2.04), silence(1.0)])
    events = run(audio, max_utterance_s=2.0, pre_roll_s=0.0)
    assert not any(isinstance(e, UtteranceDropped) for e in events)
    found = utterances(events)
    assert [u.truncated for u in found] == [True, False]
    assert found[1].speech_duration < EndpointerConfig().min_utterance_s


def test_reaching_max_utterance_in_the_closing_silence_ends_normally() -> None:
    audio = np.concatenate([silence(0.3), tone(1.5), silence(2.0), tone(0.6), silence(1.0)])
    found = utterances(run(audio, max_utterance_s=2.0, pre_roll_s=0.3, silence_end_s=0.9))
    assert [u.truncated for u in found] == [False, False]
    assert found[0].end == pytest.approx(1.8)
    assert found[0].emitted_at == pytest.approx(1.98)  # the next frame would pass 2.0 s
    assert found[1].start == pytest.approx(3.8, abs=0.03)  # frame boundaries: 30 ms


def test_silence_end_is_rounded_to_whole_frames() -> None:
    audio = np.concatenate([tone(0.6), silence(1.5)])
    (u,) = utterances(run(audio, silence_end_s=0.7))
    assert u.emitted_at - u.end == pytest.approx(0.69)  # 23 frames of 30 ms


def test_default_max_utterance_keeps_every_item_within_30_seconds() -> None:
    audio = tone(65.0)
    found = utterances(run(audio))
    assert len(found) == 3
    assert max(u.duration for u in found) <= 30.0


def test_quiet_frames_never_count_as_speech() -> None:
    class AlwaysSpeech:
        def is_speech(self, frame: PCM16) -> bool:
            return True

        def reset(self) -> None:
            pass

    quiet = tone(2.0, dbfs=-60.0)
    assert Endpointer(detector=AlwaysSpeech()).feed(quiet) == []
    louder = Endpointer(detector=AlwaysSpeech(), min_level_dbfs=-70.0)
    assert [type(e) for e in louder.feed(quiet)] == [SpeechStarted]


def test_flush_ends_the_utterance_in_progress() -> None:
    endpointer = Endpointer(detector=LoudIsSpeech())
    events = endpointer.feed(np.concatenate([silence(0.3), tone(0.99)]))
    assert [type(e) for e in events] == [SpeechStarted]
    assert endpointer.in_utterance
    (ended,) = endpointer.flush()
    assert isinstance(ended, UtteranceEnded)
    assert ended.utterance.end == pytest.approx(1.29)
    assert ended.utterance.emitted_at == pytest.approx(1.29)
    assert not endpointer.in_utterance


def test_flush_keeps_a_partial_last_frame_in_the_audio() -> None:
    endpointer = Endpointer(detector=LoudIsSpeech(), pre_roll_s=0.0, tail_s=1.0)
    endpointer.feed(tone(0.61))  # 20 frames and 160 samples
    (ended,) = endpointer.flush()
    assert isinstance(ended, UtteranceEnded)
    assert ended.utterance.pcm.size == round(0.61 * RATE)
    assert endpointer.position == pytest.approx(0.61)


def test_block_size_does_not_change_the_result() -> None:
    audio = np.concatenate([silence(0.5), tone(0.8), silence(0.9), tone(1.2), silence(1.0)])
    whole = utterances(run(audio))
    endpointer = Endpointer(detector=LoudIsSpeech())
    events = []
    for offset in range(0, audio.size, 137):
        events += endpointer.feed(audio[offset : offset + 137])
    pieces = utterances([*events, *endpointer.flush()])
    assert [(u.start, u.end, u.emitted_at) for u in pieces] == [
        (u.start, u.end, u.emitted_at) for u in whole
    ]
    assert all(np.array_equal(a.pcm, b.pcm) for a, b in zip(pieces, whole, strict=True))


def test_reset_starts_a_new_stream() -> None:
    detector = LoudIsSpeech()
    endpointer = Endpointer(detector=detector)
    endpointer.feed(np.concatenate([silence(0.3), tone(0.5)]))
    endpointer.reset()
    assert endpointer.position == 0.0
    assert not endpointer.in_utterance
    assert detector.resets == 2  # once at construction, once now
    events = [*endpointer.feed(np.concatenate([silence(0.3), tone(0.5)])), *endpointer.flush()]
    (u,) = utterances(events)
    assert u.start == pytest.approx(0.3)


def test_on_frame_reports_level_and_decision_per_frame() -> None:
    seen: list[tuple[float, bool]] = []
    endpointer = Endpointer(detector=LoudIsSpeech(), on_frame=lambda db, s: seen.append((db, s)))
    endpointer.feed(np.concatenate([silence(0.09), tone(0.09, dbfs=-20.0)]))
    assert len(seen) == 6
    assert [s for _, s in seen] == [False] * 3 + [True] * 3
    assert seen[0][0] == -120.0
    assert seen[-1][0] == pytest.approx(-20.0, abs=0.1)
    assert endpointer.level_dbfs == seen[-1][0]
    assert endpointer.speech is True


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_every_webrtc_frame_length_works(frame_ms: int) -> None:
    audio = np.concatenate([silence(0.6), tone(1.2), silence(1.2)])
    endpointer = Endpointer(detector=LoudIsSpeech(), frame_ms=frame_ms)
    (u,) = utterances([*endpointer.feed(audio), *endpointer.flush()])
    assert u.start == pytest.approx(0.6)
    assert u.end == pytest.approx(1.8)


def test_feed_refuses_other_formats() -> None:
    endpointer = Endpointer(detector=LoudIsSpeech())
    with pytest.raises(ValueError, match="int16"):
        endpointer.feed(np.zeros(480, dtype=np.float32))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mono"):
        endpointer.feed(np.zeros((480, 2), dtype=np.int16))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"frame_ms": 25}, "frame_ms"),
        ({"vad": "magic"}, "vad"),
        ({"aggressiveness": 4}, "aggressiveness"),
        ({"silence_end_s": 0.0}, "silence_end_s"),
        ({"speech_start_s": 0.01}, "speech_start_s"),
        ({"pre_roll_s": -1.0}, "pre_roll_s"),
        ({"max_utterance_s": 0.2}, "max_utterance_s"),
        ({"noise_margin_db": -3.0}, "noise_margin_db"),
    ],
)
def test_bad_settings_are_refused_clearly(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EndpointerConfig(**settings)  # type: ignore[arg-type]


def test_unknown_override_names_the_known_ones() -> None:
    with pytest.raises(TypeError, match="silence_end_s"):
        Endpointer(silense_end_s=0.5)


def test_config_builds_the_named_detector() -> None:
    assert isinstance(Endpointer().detector, WebRtcVad)
    assert isinstance(Endpointer(vad="silero").detector, SileroVad)
    both = Endpointer(vad="both", aggressiveness=3).detector
    assert isinstance(both, TwoStageVad)
    assert isinstance(both.first, WebRtcVad) and both.first.aggressiveness == 3
    assert both.first.noise_margin_db is None  # Silero handles the noise in this mode
    silero = Endpointer(vad="silero", silero_threshold=0.7).detector
    assert isinstance(silero, SileroVad) and silero.threshold == 0.7
    gated = Endpointer(noise_margin_db=3.0).detector
    assert isinstance(gated, WebRtcVad) and gated.noise_margin_db == 3.0
    ungated = Endpointer(noise_margin_db=None).detector
    assert isinstance(ungated, WebRtcVad) and ungated.noise_margin_db is None


# -- feed_async: model inference off the event loop, in order ---------------------------------


class ThreadRecorder(LoudIsSpeech):
    """LoudIsSpeech that notes the thread each frame was judged in."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def is_speech(self, frame: PCM16) -> bool:
        self.threads.add(threading.current_thread().name)
        return super().is_speech(frame)


def feed_blocks_async(endpointer: Endpointer, audio: PCM16, block: int) -> list[object]:
    async def main() -> list[object]:
        events: list[object] = []
        for offset in range(0, audio.size, block):
            events.extend(await endpointer.feed_async(audio[offset : offset + block]))
        return [*events, *endpointer.flush()]

    return asyncio.run(main())


def test_feed_async_judges_off_the_loop_and_gives_what_feed_gives() -> None:
    audio = np.concatenate([silence(0.5), tone(1.0), silence(1.0), tone(0.6), silence(1.0)])
    recorder = ThreadRecorder()
    events = feed_blocks_async(Endpointer(detector=recorder), audio, block=700)
    assert recorder.threads == {"voxagent-vad-1"}  # one worker thread, never the loop's
    expected = run(audio)
    assert [type(e) for e in events] == [type(e) for e in expected]
    assert [(u.start, u.end, u.emitted_at) for u in utterances(events)] == [
        (u.start, u.end, u.emitted_at) for u in utterances(expected)
    ]


def test_feed_async_keeps_webrtcvad_inline_and_on_frame_on_the_loop(corpus: Corpus) -> None:
    audio, _ = sf.read(corpus.path("clean"), dtype="int16")
    audio = audio[: 16000 * 8]
    hook_threads: set[str] = set()
    endpointer = Endpointer(on_frame=lambda level, speech: hook_threads.add(current_name()))
    events = feed_blocks_async(endpointer, audio, block=480)
    assert hook_threads == {threading.main_thread().name}
    assert [(u.start, u.end) for u in utterances(events)] == [
        (u.start, u.end) for u in segment(audio, sample_rate=16000)
    ]


def current_name() -> str:
    return threading.current_thread().name


def test_feed_async_with_silero_matches_feed(corpus: Corpus) -> None:
    audio, _ = sf.read(corpus.path("pink_10db"), dtype="int16")
    audio = audio[: 16000 * 10]
    endpointer = Endpointer(vad="silero")
    events = feed_blocks_async(endpointer, audio, block=480)
    assert [(u.start, u.end) for u in utterances(events)] == [
        (u.start, u.end) for u in segment(audio, sample_rate=16000, vad="silero")
    ]


# -- every setting has an effect ---------------------------------------------------------------


def test_the_defaults_are_named_and_documented() -> None:
    config = EndpointerConfig()
    doc = EndpointerConfig.__doc__ or ""
    for name in (
        "frame_ms", "aggressiveness", "speech_start_s", "silence_end_s", "pre_roll_s",
        "min_utterance_s", "max_utterance_s", "min_level_dbfs",
    ):  # fmt: skip
        assert hasattr(config, name) and name in doc
    assert config.max_utterance_s == 30.0
    assert config.vad == "webrtc"


def test_silence_end_sets_when_the_utterance_is_decided() -> None:
    audio = np.concatenate([silence(0.5), tone(1.0), silence(0.5), tone(1.0), silence(2.0)])
    (u,) = utterances(run(audio, silence_end_s=0.6))  # the 0.5 s pause stays inside
    assert u.emitted_at - u.end == pytest.approx(0.6, abs=0.031)
    assert len(utterances(run(audio, silence_end_s=0.3))) == 2  # now it splits


def test_speech_start_rejects_blips_shorter_than_it() -> None:
    audio = np.concatenate([silence(0.48), tone(0.09), silence(1.5)])  # three whole frames
    assert run(audio, speech_start_s=0.15, min_utterance_s=0.03) == []
    events = run(audio, speech_start_s=0.09, min_utterance_s=0.03)
    assert [type(e) for e in events] == [SpeechStarted, UtteranceEnded]


def test_pre_roll_and_tail_bound_the_audio() -> None:
    audio = np.concatenate([silence(1.0), tone(1.0), silence(2.0)])
    for pre_roll, tail in [(0.0, 0.0), (0.3, 0.25), (0.6, 0.5)]:
        (u,) = utterances(run(audio, pre_roll_s=pre_roll, tail_s=tail))
        assert u.start == pytest.approx(1.0, abs=0.03) and u.end == pytest.approx(2.0, abs=0.03)
        assert u.duration == pytest.approx(pre_roll + 1.0 + tail, abs=0.031)
        assert not u.pcm[: round(pre_roll * RATE)].any()  # the silence before the speech
        assert u.pcm[round(pre_roll * RATE) : round((pre_roll + 0.05) * RATE)].any()


def test_min_utterance_drops_clicks_with_an_event() -> None:
    audio = np.concatenate([silence(0.48), tone(0.15), silence(1.5)])  # five whole frames
    events = run(audio)
    dropped = [e for e in events if isinstance(e, UtteranceDropped)]
    assert len(dropped) == 1 and "too short" in dropped[0].reason and not utterances(events)
    assert len(utterances(run(audio, min_utterance_s=0.1))) == 1


def test_max_utterance_cuts_long_speech() -> None:
    audio = np.concatenate([silence(0.5), tone(7.0), silence(1.5)])
    found = utterances(run(audio, max_utterance_s=3.0))
    assert len(found) == 3 and [u.truncated for u in found] == [True, True, False]
    assert all(u.duration <= 3.0 + 1e-9 for u in found)
    assert sum(u.end - u.start for u in found) == pytest.approx(7.0, abs=0.1)
    (whole,) = utterances(run(audio))
    assert not whole.truncated and whole.duration < 30.0


def test_min_level_ignores_quiet_sound_whatever_the_detector_says() -> None:
    class EverythingIsSpeech(LoudIsSpeech):
        def is_speech(self, frame: np.ndarray) -> bool:
            return True

    audio = np.concatenate([silence(0.5), tone(1.0, dbfs=-50.0), silence(1.5)])
    quiet = Endpointer(detector=EverythingIsSpeech(), min_level_dbfs=-40.0)
    assert not utterances([*quiet.feed(audio), *quiet.flush()])
    loud = Endpointer(detector=EverythingIsSpeech(), min_level_dbfs=-60.0)
    assert len(utterances([*loud.feed(audio), *loud.flush()])) == 1


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_frame_ms_sets_the_judging_grain(frame_ms: int) -> None:
    calls: list[bool] = []
    endpointer = Endpointer(frame_ms=frame_ms, on_frame=lambda level, speech: calls.append(speech))
    endpointer.feed(silence(0.6))
    assert len(calls) == round(600 / frame_ms)


def test_aggressiveness_and_vad_mode_build_the_detector() -> None:
    webrtc = Endpointer(aggressiveness=3).detector
    assert isinstance(webrtc, WebRtcVad) and webrtc.aggressiveness == 3
    assert isinstance(Endpointer(vad="silero").detector, SileroVad)
    assert isinstance(Endpointer(vad="both").detector, TwoStageVad)
    with pytest.raises(ValueError, match="aggressiveness"):
        Endpointer(aggressiveness=4)
    with pytest.raises(TypeError, match="unknown endpointer setting"):
        Endpointer(silence_end=1.0)


def test_pauses_and_resumed_speech_are_reported_before_the_turn_ends() -> None:
    paused: list[Utterance] = []
    resumed: list[float] = []
    endpointer = Endpointer(
        detector=LoudIsSpeech(), on_pause=paused.append, on_resume=resumed.append
    )
    audio = np.concatenate([tone(0.6), silence(0.5), tone(0.5), silence(1.0)])
    events = endpointer.feed(audio) + endpointer.flush()
    (ended,) = [event.utterance for event in events if isinstance(event, UtteranceEnded)]
    assert [round(u.end, 2) for u in paused] == [0.6, 1.62]  # each pause (30 ms frames)
    # at speculation_pause_s, 0.12 s: 4 frames
    assert all(round(u.emitted_at - u.end, 2) == 0.12 for u in paused)
    assert resumed == [1.08]  # the frame the second tone starts in
    assert paused[-1].start == ended.start and paused[-1].end == ended.end
    assert paused[-1].pcm.size < ended.pcm.size  # so far: up to the pause, not the tail
