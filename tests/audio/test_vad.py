"""Speech detectors on real (synthesised) speech and on noise."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from agent.audio import (
    NoiseFloor,
    SileroVad,
    SpeechDetector,
    SteadySound,
    TwoStageVad,
    WebRtcVad,
    level_dbfs,
)
from agent.audio.convert import PCM16
from tests.audio.corpus import Corpus

RATE = 16_000


def frames(pcm: PCM16, size: int = 480) -> list[PCM16]:
    return [pcm[i : i + size] for i in range(0, pcm.size - size + 1, size)]


def speech_ratio(detector: SpeechDetector, pcm: PCM16) -> float:
    decisions = [detector.is_speech(frame) for frame in frames(pcm)]
    return sum(decisions) / len(decisions)


def spoken_part(corpus: Corpus, stem: str) -> tuple[PCM16, PCM16]:
    """(the first utterance, the silence or noise before it) of one corpus file."""
    audio, _ = sf.read(corpus.path(stem), dtype="int16")
    first = corpus.utterances(stem)[0]
    speech = audio[round(first["start"] * RATE) : round(first["end"] * RATE)]
    before = audio[: round((first["start"] - 0.1) * RATE)]
    return speech, before


def test_level_dbfs() -> None:
    assert level_dbfs(np.zeros(480, dtype=np.int16)) == -120.0
    assert level_dbfs(np.zeros(0, dtype=np.int16)) == -120.0
    square = np.tile(np.array([32767, -32767], dtype=np.int16), 240)
    assert level_dbfs(square) == pytest.approx(0.0, abs=0.01)
    assert level_dbfs((square // 10).astype(np.int16)) == pytest.approx(-20.0, abs=0.01)
    # a DC offset is not sound: it neither counts alone nor lifts a signal's level
    assert level_dbfs(np.full(480, 1000, dtype=np.int16)) == -120.0
    assert level_dbfs((square // 10 + 1000).astype(np.int16)) == pytest.approx(-20.0, abs=0.01)


def test_webrtc_checks_frame_length_and_mode() -> None:
    with pytest.raises(ValueError, match="10, 20 or 30 ms"):
        WebRtcVad().is_speech(np.zeros(512, dtype=np.int16))
    with pytest.raises(ValueError, match="aggressiveness"):
        WebRtcVad(5)


@pytest.mark.parametrize("make", [WebRtcVad, SileroVad, TwoStageVad])
def test_detectors_tell_speech_from_silence(corpus: Corpus, make: type) -> None:
    detector = make()
    assert isinstance(detector, SpeechDetector)
    speech, before = spoken_part(corpus, "clean")
    # webrtcvad alone calls some of the -70 dBFS floor speech while it adapts; the endpointer's
    # min_level_dbfs gate removes those
    assert speech_ratio(detector, before) < 0.15
    assert speech_ratio(detector, speech) > 0.6


@pytest.mark.parametrize("noise", ["white", "pink", "brown"])
def test_silero_tells_speech_from_noise_at_5_db(corpus: Corpus, noise: str) -> None:
    speech, before = spoken_part(corpus, f"{noise}_5db")
    detector = SileroVad()
    assert speech_ratio(detector, before) < 0.05
    assert speech_ratio(detector, speech) > 0.5


def test_silero_keeps_state_and_resets(corpus: Corpus) -> None:
    speech, _ = spoken_part(corpus, "clean")
    detector = SileroVad()
    first = [detector.is_speech(f) for f in frames(speech)]
    assert detector.probability > 0.0
    detector.reset()
    assert detector.probability == 0.0
    assert [detector.is_speech(f) for f in frames(speech)] == first  # same state, same answers


def test_silero_any_frame_length_gives_the_same_windows(corpus: Corpus) -> None:
    speech, _ = spoken_part(corpus, "clean")
    a, b = SileroVad(), SileroVad()
    for frame in frames(speech, 480):
        a.is_speech(frame)
    for frame in frames(speech, 160):
        b.is_speech(frame)
    assert a.probability == pytest.approx(b.probability, abs=1e-5)


def test_silero_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="threshold"):
        SileroVad(threshold=1.5)
    with pytest.raises(ValueError, match="release_threshold"):
        SileroVad(threshold=0.5, release_threshold=0.7)


def test_two_stage_needs_both() -> None:
    class Fixed:
        def __init__(self, answer: bool) -> None:
            self.answer = answer
            self.calls = 0
            self.resets = 0

        def is_speech(self, frame: PCM16) -> bool:
            self.calls += 1
            return self.answer

        def reset(self) -> None:
            self.resets += 1

    frame = np.zeros(480, dtype=np.int16)
    yes, no = Fixed(True), Fixed(False)
    assert TwoStageVad(yes, yes).is_speech(frame) is True
    both = TwoStageVad(yes, no)
    assert both.is_speech(frame) is False
    assert no.calls == 1  # the second stage sees every frame, to keep its state in step
    both.reset()
    assert yes.resets == 1 and no.resets == 1


def test_noise_floor_tracks_the_quietest_level_of_the_window() -> None:
    floor = NoiseFloor(window_s=1.0)
    assert floor.update(-30.0, 0.03) == -120.0  # unknown until half a second was heard
    for _ in range(20):
        floor.update(-20.0, 0.03)
    assert floor.dbfs == -30.0
    for _ in range(60):  # 1.8 s later the quiet frame has left the window
        floor.update(-20.0, 0.03)
    assert floor.dbfs == -20.0
    floor.reset()
    assert floor.dbfs == -120.0
    with pytest.raises(ValueError, match="noise_window_s"):
        NoiseFloor(window_s=0.1)


def test_a_fresh_webrtc_detector_hears_speech_at_once(corpus: Corpus) -> None:
    speech, _ = spoken_part(corpus, "clean")
    loud = max(frames(speech), key=level_dbfs)
    assert WebRtcVad().is_speech(loud)


def test_webrtc_noise_gate_rejects_steady_noise(corpus: Corpus) -> None:
    audio, _ = sf.read(corpus.path("pink_10db"), dtype="int16")
    is_noise = np.ones(audio.size, dtype=bool)
    for utterance in corpus.utterances("pink_10db"):  # everything 0.3 s away from speech
        first, last = utterance["start"] - 0.3, utterance["end"] + 0.3
        is_noise[round(first * RATE) : round(last * RATE)] = False
    gated, raw = WebRtcVad(), WebRtcVad(noise_margin_db=None)
    noise_frames = 0
    gated_hits = raw_hits = 0
    for offset in range(0, audio.size - 480, 480):
        frame = audio[offset : offset + 480]
        gated_says, raw_says = gated.is_speech(frame), raw.is_speech(frame)
        if is_noise[offset : offset + 480].all():
            noise_frames += 1
            gated_hits += gated_says
            raw_hits += raw_says
    assert raw_hits / noise_frames > 0.15  # webrtcvad alone calls much of pink noise speech
    assert gated_hits / noise_frames < 0.02
    assert -60.0 < gated.noise_floor_dbfs < -30.0
    with pytest.raises(ValueError, match="noise_margin_db"):
        WebRtcVad(noise_margin_db=-1.0)


@pytest.mark.parametrize("noise", ["white", "pink"])
def test_webrtc_gate_holds_soft_syllables_after_speech(corpus: Corpus, noise: str) -> None:
    speech, before = spoken_part(corpus, f"{noise}_10db")
    held = speech_ratio(WebRtcVad(hold_db=3.0), speech)
    assert held > speech_ratio(WebRtcVad(hold_db=0.0), speech)
    assert held > 0.5
    detector = WebRtcVad(hold_db=3.0)
    assert speech_ratio(detector, before) < 0.15  # noise alone never opens the gate for long
    with pytest.raises(ValueError, match="hold_db"):
        WebRtcVad(hold_db=-1.0)


def steady_flags(pcm: PCM16) -> list[bool]:
    detector = SteadySound()
    return [detector.is_steady(frame, level_dbfs(frame)) for frame in frames(pcm)]


@pytest.mark.parametrize("frequency", [50.0, 100.0, 440.0, 1234.5])
def test_a_tone_is_steady_from_its_second_frame(frequency: float) -> None:
    t = np.arange(RATE) / RATE
    tone = np.round(3000 * np.sin(2 * np.pi * frequency * t + 0.3)).astype(np.int16)
    flags = steady_flags(tone)
    assert flags[0] is False  # nothing to compare with yet
    assert all(flags[1:])


def test_speech_and_noise_are_never_steady(corpus: Corpus) -> None:
    speech, _ = spoken_part(corpus, "clean")
    assert not any(steady_flags(speech))
    noisy, _ = spoken_part(corpus, "white_0db")
    assert not any(steady_flags(noisy))


def test_quiet_frames_are_skipped_so_a_click_train_is_steady() -> None:
    clicks = np.zeros(RATE, dtype=np.int16)
    clicks[::640] = 16000  # 25 clicks a second; some 30 ms frames hold none
    flags = steady_flags(clicks)
    loud = [f for f, frame in zip(flags, frames(clicks), strict=False) if frame.any()]
    assert sum(loud) >= len(loud) - 1
    detector = SteadySound()
    assert detector.is_steady(np.zeros(480, dtype=np.int16), -120.0) is False
    with pytest.raises(ValueError, match="max_change"):
        SteadySound(max_change=1.5)
