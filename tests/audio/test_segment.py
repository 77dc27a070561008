"""`segment` over the generated corpus, against its ground truth."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.audio import Endpointer, EndpointerConfig, Utterance, segment
from agent.audio import vad as detectors
from agent.errors import BadAudioError
from tests.audio.corpus import Corpus

RATE = 16_000
START_TOLERANCE = 0.12
END_TOLERANCE = 0.2


def assert_matches(
    found: list[Utterance],
    truth: list[dict[str, float]],
    latency: float,
    end_tolerance: float = END_TOLERANCE,
    start_tolerance: float = START_TOLERANCE,
) -> None:
    assert len(found) == len(truth), [(u.start, u.end) for u in found]
    for u, true in zip(found, truth, strict=True):
        assert u.start == pytest.approx(true["start"], abs=start_tolerance)
        assert u.start - EndpointerConfig().pre_roll_s <= true["start"]  # the audio holds it
        assert u.end == pytest.approx(true["end"], abs=end_tolerance)
        assert u.end + EndpointerConfig().tail_s >= true["end"]  # the audio holds the last word
        assert true["end"] < u.emitted_at <= true["end"] + latency
        assert u.duration >= u.end - u.start


def test_clean_speech_with_defaults(corpus: Corpus) -> None:
    found = segment(corpus.path("clean"))
    latency = EndpointerConfig().silence_end_s + 0.15
    assert_matches(found, corpus.utterances("clean"), latency=latency)
    first = found[0]
    assert first.sample_rate == 16000
    assert first.pcm.dtype == np.int16
    assert first.to_wav()[:4] == b"RIFF"


@pytest.mark.parametrize("noise", ["white", "pink", "brown"])
@pytest.mark.parametrize("vad", ["webrtc", "silero", "both"])
def test_noisy_speech_at_10_db(corpus: Corpus, noise: str, vad: str) -> None:
    stem = f"{noise}_10db"
    latency = EndpointerConfig().silence_end_s + 0.3
    found = segment(corpus.path(stem), vad=vad)
    # in noise a soft last syllable may sink under the noise: the tail covers it
    assert_matches(found, corpus.utterances(stem), latency, end_tolerance=0.25)


@pytest.mark.parametrize("vad", ["webrtc", "silero", "both"])
def test_reverberant_room(corpus: Corpus, vad: str) -> None:
    found = segment(corpus.path("reverb"), vad=vad)
    truth = corpus.utterances("reverb")
    # the reverberation tail sounds like speech for a while: ends come late, never early
    latency = EndpointerConfig().silence_end_s + 0.6
    assert_matches(found, truth, latency, end_tolerance=0.6)
    assert all(u.end >= true["end"] - 0.05 for u, true in zip(found, truth, strict=True))


@pytest.mark.parametrize("noise", ["white", "pink", "brown"])
def test_silero_holds_up_at_0_db(corpus: Corpus, noise: str) -> None:
    stem = f"{noise}_0db"
    found = segment(corpus.path(stem), vad="silero")
    truth = corpus.utterances(stem)
    # at 0 dB the noise can hold Silero's release for a while: ends may come late, never early
    latency = EndpointerConfig().silence_end_s + 0.7
    assert_matches(found, truth, latency, end_tolerance=0.6, start_tolerance=0.15)


def test_a_clip_cut_right_at_the_first_word_keeps_it(corpus: Corpus) -> None:
    audio, rate = sf.read(corpus.path("clean"), dtype="int16")
    first = corpus.utterances("clean")[0]
    found = segment(audio[round(first["start"] * rate) :], sample_rate=rate)
    assert found[0].start < 0.06  # found at once
    assert found[0].start - EndpointerConfig().pre_roll_s <= 0.0


def test_bytes_and_arrays_give_the_same_as_the_file(corpus: Corpus) -> None:
    path = corpus.path("clean")
    from_file = segment(path)
    from_bytes = segment(path.read_bytes())
    samples, _ = sf.read(path, dtype="float32")
    positions = np.arange(0, samples.size, 16000 / 44100)
    resampled = np.interp(positions, np.arange(samples.size), samples)
    from_array = segment(resampled, sample_rate=44100)
    assert [(u.start, u.end) for u in from_bytes] == [(u.start, u.end) for u in from_file]
    assert [u.start for u in from_array] == pytest.approx([u.start for u in from_file], abs=0.06)


def test_an_endpointer_can_be_reused(corpus: Corpus) -> None:
    endpointer = Endpointer(silence_end_s=0.9)
    first = segment(corpus.path("clean"), endpointer=endpointer)
    second = segment(corpus.path("clean"), endpointer=endpointer)
    assert [(u.start, u.emitted_at) for u in first] == [(u.start, u.emitted_at) for u in second]
    assert first[0].emitted_at - first[0].end >= 0.9 - 1e-9
    with pytest.raises(TypeError, match="either"):
        segment(corpus.path("clean"), endpointer=endpointer, vad="silero")


def test_silence_gives_no_utterances(tmp_path: Path) -> None:
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(16000 * 5, dtype=np.int16), 16000)
    assert segment(path) == []


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"RIFF....not really")
    with pytest.raises(BadAudioError, match="not readable audio"):
        segment(path)
    with pytest.raises(BadAudioError, match="empty"):
        segment(b"")
    with pytest.raises(BadAudioError, match="shape"):
        segment(np.zeros((2, 2, 2)), sample_rate=16000)


def test_a_dc_offset_changes_nothing(corpus: Corpus) -> None:
    audio, _ = sf.read(corpus.path("clean"), dtype="int16")
    offset = (audio.astype(np.int32) + 2000).astype(np.int16)  # a cheap microphone: -24 dBFS of DC
    plain = segment(audio, sample_rate=16000)
    shifted = segment(offset, sample_rate=16000)
    assert [u.start for u in shifted] == pytest.approx([u.start for u in plain], abs=0.061)
    assert [u.end for u in shifted] == pytest.approx([u.end for u in plain], abs=0.061)


# -- steady sounds (tones, hum, buzz, clicks) are not speech, from the first frame on ----------

VAD_MODES = ["webrtc", "silero", "both"]


def sox(out: Path, *arguments: str) -> Path:
    """Make a 16 kHz mono file with sox (`sox -n ... out synth ...` or a mix)."""
    if shutil.which("sox") is None:
        pytest.skip("needs sox (apt-get install sox)")
    subprocess.run(
        ["sox", *arguments[:-1], "-r", "16000", "-c", "1", str(out), *arguments[-1].split()],
        check=True,
    )
    return out


def synth(tmp_path: Path, name: str, effect: str) -> Path:
    return sox(tmp_path / f"{name}.wav", "-n", effect)


def spoken(tmp_path: Path, text: str, *, lead_s: float = 0.0) -> Path:
    """espeak-ng speech at 16 kHz, after `lead_s` of silence."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng (apt-get install espeak-ng)")
    raw = tmp_path / "espeak.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
    return sox(tmp_path / "speech.wav", str(raw), f"pad {lead_s} 0.5")


def click_train(tmp_path: Path, per_second: int) -> Path:
    audio = np.zeros(16000 * 5, dtype=np.int16)
    audio[:: 16000 // per_second] = 16000
    audio[1 :: 16000 // per_second] = -9000
    path = tmp_path / f"clicks{per_second}.wav"
    sf.write(path, audio, 16000)
    return path


STEADY_SOUNDS = {
    "tone 440 Hz": "synth 5 sine 440 vol 0.1",
    "hum 100 Hz": "synth 5 sine 100 vol 0.1",
    "hum 50 Hz": "synth 5 sine 50 vol 0.3",
    "buzz": "synth 5 square 100 vol 0.05",
    "sawtooth": "synth 5 sawtooth 120 vol 0.05",
    "tone fading in": "synth 5 sine 1000 vol 0.2 fade 0.3",
}


@pytest.mark.parametrize("vad", VAD_MODES)
@pytest.mark.parametrize("sound", sorted(STEADY_SOUNDS))
def test_a_steady_sound_from_the_start_is_not_speech(tmp_path: Path, sound: str, vad: str) -> None:
    path = synth(tmp_path, "steady", STEADY_SOUNDS[sound])
    assert segment(path, vad=vad) == []


@pytest.mark.parametrize("vad", VAD_MODES)
@pytest.mark.parametrize("per_second", [2, 10, 25])
def test_a_click_train_is_not_speech(tmp_path: Path, per_second: int, vad: str) -> None:
    assert segment(click_train(tmp_path, per_second), vad=vad) == []


@pytest.mark.parametrize("vad", VAD_MODES)
def test_a_steady_tone_after_speech_is_not_speech_either(tmp_path: Path, vad: str) -> None:
    speech = spoken(tmp_path, "Turn off the lights.")
    tone = synth(tmp_path, "tone", "synth 4 sine 440 vol 0.1")
    path = sox(tmp_path / "both.wav", str(speech), str(tone), "")
    found = segment(path, vad=vad)
    assert len(found) == 1, found
    assert found[0].end < sf.info(speech).duration


@pytest.mark.parametrize("vad", VAD_MODES)
def test_speech_from_the_first_sample_is_found(tmp_path: Path, vad: str) -> None:
    path = spoken(tmp_path, "Set a timer for five minutes.")
    found = segment(path, vad=vad)
    assert len(found) == 1, found
    assert found[0].start <= 0.15
    assert found[0].end >= sf.info(path).duration - 0.5 - 0.3


@pytest.mark.parametrize("vad", VAD_MODES)
@pytest.mark.parametrize("hum_volume", [0.02, 0.1])
def test_speech_over_a_hum_is_found_and_the_hum_alone_is_not(
    tmp_path: Path, vad: str, hum_volume: float
) -> None:
    speech = spoken(tmp_path, "What is the weather like in Paris tomorrow?", lead_s=1.0)
    seconds = sf.info(speech).duration + 1.0
    hum = synth(tmp_path, "hum", f"synth {seconds} sine 100 vol {hum_volume}")
    path = sox(tmp_path / "mixed.wav", "-m", str(hum), str(speech), "")
    found = segment(path, vad=vad)
    assert len(found) == 1, found
    assert 0.85 <= found[0].start <= 1.25  # not at 0.0: the hum before the speech is no speech
    assert found[0].end >= seconds - 1.0 - 0.5 - 0.3


# -- the API sample of issue 4, verbatim ------------------------------------------------------


def test_the_issue_sample_runs_verbatim(session_wav: Path, corpus: Corpus) -> None:
    utterances = segment("session.wav")
    u = utterances[0]
    truth = corpus.utterances("clean")
    assert len(utterances) == len(truth)
    config = EndpointerConfig()
    for u, true in zip(utterances, truth, strict=True):
        assert isinstance(u, Utterance)
        assert isinstance(u.pcm, np.ndarray) and u.pcm.dtype == np.int16 and u.pcm.ndim == 1
        assert u.sample_rate == 16000
        assert u.start < u.end <= u.emitted_at
        assert u.start == pytest.approx(true["start"], abs=0.12)
        assert u.end == pytest.approx(true["end"], abs=0.2)
        # decided after the end silence, not before the speech ended
        assert true["end"] < u.emitted_at <= true["end"] + config.silence_end_s + 0.3
        # the audio holds the pre-roll before the first speech frame and the whole utterance
        pre_roll = u.duration - (min(u.emitted_at, u.end + config.tail_s) - u.start)
        assert pre_roll == pytest.approx(config.pre_roll_s, abs=0.002)
        assert u.start - pre_roll <= true["start"] and u.end + config.tail_s >= true["end"]
    starts = [u.start for u in utterances]
    assert starts == sorted(starts)
    assert all(a.emitted_at <= b.start for a, b in itertools.pairwise(utterances))


def test_segment_takes_a_path_bytes_or_an_array_alike(session_wav: Path) -> None:
    from_path = segment(session_wav)
    from_bytes = segment(session_wav.read_bytes())
    samples, _ = sf.read(session_wav, dtype="float32")
    from_array = segment(samples, sample_rate=RATE)
    spans = [(u.start, u.end) for u in from_path]
    assert [(u.start, u.end) for u in from_bytes] == spans
    assert [(u.start, u.end) for u in from_array] == spans


# -- every VAD mode on the corpus -------------------------------------------------------------


@pytest.mark.parametrize("vad", ["webrtc", "silero", "both"])
def test_every_mode_finds_every_utterance_of_a_quiet_talker(corpus: Corpus, vad: str) -> None:
    found = segment(corpus.path("quiet"), vad=vad)
    truth = corpus.utterances("quiet")
    assert len(found) == len(truth), [(u.start, u.end) for u in found]
    for u, true in zip(found, truth, strict=True):
        assert u.start - EndpointerConfig().pre_roll_s <= true["start"]
        assert u.end + EndpointerConfig().tail_s >= true["end"]


def test_silero_as_a_second_stage_behind_webrtc(corpus: Corpus) -> None:
    detector = detectors.TwoStageVad(
        detectors.WebRtcVad(noise_margin_db=None), detectors.SileroVad()
    )
    found = segment(corpus.path("pink_10db"), endpointer=Endpointer(detector=detector))
    assert len(found) == len(corpus.utterances("pink_10db"))


def test_silero_alone_survives_noise_that_defeats_webrtc(corpus: Corpus) -> None:
    truth = corpus.utterances("brown_5db")
    assert len(segment(corpus.path("brown_5db"), vad="silero")) == len(truth)
