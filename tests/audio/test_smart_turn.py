"""Smart Turn v3.2: the numpy log-mel against pipecat's reference, the model's verdicts on
espeak-ng speech, and the smart-turn turn decision of the endpointer."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import subprocess
import threading
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from agent.audio import (
    Endpointer,
    EndpointerConfig,
    SmartTurn,
    UtteranceEnded,
    decode_audio,
    segment,
    smart_turn_model_path,
)
from agent.audio.convert import PCM16
from agent.audio.smart_turn import log_mel_features
from agent.errors import VoxagentError

RATE = 16_000

try:
    smart_turn_model_path()
except VoxagentError:
    pytest.skip(
        "needs the pipecat-ai wheel (pip install --no-deps pipecat-ai)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def model() -> SmartTurn:
    return SmartTurn()


def reference_features() -> ModuleType:
    """pipecat's vendored transformers feature extractor, loaded from its file (numpy only)."""
    path = smart_turn_model_path().parents[1] / "_whisper_features.py"
    spec = importlib.util.spec_from_file_location("pipecat_whisper_features", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def spoken(text: str, tmp_path: Path) -> PCM16:
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng (apt-get install espeak-ng)")
    path = tmp_path / "said.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    return decode_audio(path)


def silence(seconds: float) -> PCM16:
    return np.zeros(round(seconds * RATE), dtype=np.int16)


@pytest.mark.parametrize("seconds", [0.5, 3.0, 8.0, 11.0])
def test_log_mel_matches_the_reference_extractor(seconds: float) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(round(seconds * RATE)) / RATE
    wave = 0.2 * np.sin(2 * np.pi * 220 * t * (1 + t / 4)) + 0.02 * rng.standard_normal(t.size)
    pcm = np.round(wave * 32767).astype(np.int16)
    ours = log_mel_features(pcm)
    tail = pcm[-8 * RATE :].astype(np.float32) / 32768.0
    padded = np.concatenate([np.zeros(8 * RATE - tail.size, dtype=np.float32), tail])
    theirs = reference_features().compute_whisper_log_mel_features(padded, do_normalize=True)
    assert ours.shape == (80, 800) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_short_audio_is_padded_at_the_start() -> None:
    burst = np.round(8000 * np.sin(np.arange(RATE) / 3)).astype(np.int16)  # 1 s at the end
    features = log_mel_features(burst)
    assert np.ptp(features[:, :600]) == pytest.approx(0.0, abs=1e-6)  # 7 s of padding: flat
    assert np.ptp(features[:, 720:]) > 0.5


COMPLETE = ["Set a timer for five minutes.", "What is the weather like in Paris tomorrow?"]
INCOMPLETE = ["What is the weather like in", "Set a timer for, uh"]


@pytest.mark.parametrize("text", COMPLETE)
def test_complete_sentences_are_judged_complete(
    model: SmartTurn, text: str, tmp_path: Path
) -> None:
    said = spoken(text, tmp_path)
    assert model.probability(np.concatenate([said, silence(0.2)])) > 0.9


@pytest.mark.parametrize("text", INCOMPLETE)
def test_unfinished_sentences_are_judged_incomplete(
    model: SmartTurn, text: str, tmp_path: Path
) -> None:
    said = spoken(text, tmp_path)
    assert model.probability(np.concatenate([said, silence(0.2)])) < 0.3


def test_the_model_judges_alike_on_one_thread_or_two(model: SmartTurn, tmp_path: Path) -> None:
    said = np.concatenate([spoken(COMPLETE[1], tmp_path), silence(0.2)])
    one = SmartTurn(threads=1)
    assert model.threads == min(2, os.cpu_count() or 1) and one.threads == 1
    assert one.probability(said) == pytest.approx(model.probability(said), abs=1e-4)


def test_espeak_set_a_timer_for_sounds_finished_to_the_model(
    model: SmartTurn, tmp_path: Path
) -> None:
    # What the model really says: espeak-ng ends "Set a timer for" with a falling pitch, as a
    # finished sentence, and the model (which hears prosody, not grammar) calls it complete.
    said = spoken("Set a timer for", tmp_path)
    assert model.probability(np.concatenate([said, silence(0.2)])) > 0.5


def paused_sentence(tmp_path: Path, pause_s: float) -> tuple[PCM16, float]:
    """("What is the weather like in ... Paris tomorrow?", where the second part starts)."""
    first = spoken("What is the weather like in", tmp_path)
    second = spoken("Paris tomorrow?", tmp_path)
    audio = np.concatenate([first, silence(pause_s), second, silence(2.5)])
    return audio, (first.size + round(pause_s * RATE)) / RATE


@pytest.mark.parametrize("vad", ["webrtc", "silero"])
def test_a_pause_judged_mid_turn_stays_inside_one_turn(tmp_path: Path, vad: str) -> None:
    audio, second_part = paused_sentence(tmp_path, 1.0)
    assert len(segment(audio, sample_rate=RATE, vad=vad)) == 2  # the silence rule cuts it
    (turn,) = segment(audio, sample_rate=RATE, vad=vad, turn_detector="smart-turn")
    assert turn.start < 0.2 and turn.end > second_part + 0.5
    # its end, judged complete (0.5-0.9 for these joined halves), waits no longer than the rule
    assert turn.emitted_at - turn.end <= EndpointerConfig().silence_end_s


def test_a_complete_turn_is_committed_at_the_short_pause(tmp_path: Path) -> None:
    audio = np.concatenate([spoken(COMPLETE[0], tmp_path), silence(2.0)])
    (silence_rule,) = segment(audio, sample_rate=RATE)
    (turn,) = segment(audio, sample_rate=RATE, turn_detector="smart-turn")
    assert turn.end == pytest.approx(silence_rule.end, abs=0.031)
    assert turn.emitted_at - turn.end == pytest.approx(0.2, abs=0.031)
    assert silence_rule.emitted_at - silence_rule.end == pytest.approx(0.8, abs=0.031)


class Verdict:
    """A stand-in turn model with a fixed verdict, noting where and how often it was asked."""

    def __init__(self, probability: float) -> None:
        self.value = probability
        self.calls = 0
        self.threads: set[str] = set()

    def probability(self, pcm: PCM16) -> float:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        return self.value


@pytest.mark.parametrize(
    ("verdict", "wait_s"), [(0.0, 2.0), (0.25, 1.4), (0.49, 0.8), (0.7, 0.78), (0.95, 0.2)]
)
def test_the_wait_follows_the_verdict_and_is_bounded(
    tmp_path: Path, verdict: float, wait_s: float
) -> None:
    audio = np.concatenate([spoken(COMPLETE[0], tmp_path), silence(3.0)])
    judge = Verdict(verdict)
    endpointer = Endpointer(turn_detector="smart-turn", turn_model=judge)
    (turn,) = segment(audio, sample_rate=RATE, endpointer=endpointer)
    assert turn.emitted_at - turn.end == pytest.approx(wait_s, abs=0.05)
    assert judge.calls == 1  # once per pause, not per frame
    assert endpointer.turn_probability == verdict


@pytest.mark.parametrize(
    ("text", "fall_threshold", "wait_s"),
    [
        (COMPLETE[0], 0.7, 0.2),  # espeak's statement ends 4 semitones low: ended at once
        (COMPLETE[0], None, 0.78),  # the model alone: 0.75 is not sure enough
        (COMPLETE[1], 0.7, 0.78),  # the question's end stays level (-0.1 st): waits
    ],
)
def test_a_fairly_sure_verdict_ends_the_turn_when_the_pitch_fell(
    tmp_path: Path, text: str, fall_threshold: float | None, wait_s: float
) -> None:
    audio = np.concatenate([spoken(text, tmp_path), silence(3.0)])
    endpointer = Endpointer(
        turn_detector="smart-turn", turn_model=Verdict(0.75), turn_fall_threshold=fall_threshold
    )
    (turn,) = segment(audio, sample_rate=RATE, endpointer=endpointer)
    assert turn.emitted_at - turn.end == pytest.approx(wait_s, abs=0.05)
    if fall_threshold is not None:
        assert endpointer.pitch_drop is not None
        assert (endpointer.pitch_drop <= -3.0) == (wait_s < 0.5)


def test_feed_async_asks_the_model_off_the_loop_once_per_pause(tmp_path: Path) -> None:
    audio, _ = paused_sentence(tmp_path, 1.0)
    judge = Verdict(0.0)
    endpointer = Endpointer(turn_detector="smart-turn", turn_model=judge)

    async def main() -> list[object]:
        events: list[object] = []
        for offset in range(0, audio.size, 480):
            events.extend(await endpointer.feed_async(audio[offset : offset + 480]))
        return [*events, *endpointer.flush()]

    ended = [e for e in asyncio.run(main()) if isinstance(e, UtteranceEnded)]
    assert len(ended) == 1
    assert judge.threads == {"voxagent-vad-1"}
    assert judge.calls == 2  # the mid-sentence pause and the final one


def test_turn_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="turn_detector"):
        EndpointerConfig(turn_detector="vibes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="turn_pause_s <= silence_end_s <= turn_max_wait_s"):
        EndpointerConfig(turn_pause_s=1.0)
    with pytest.raises(ValueError, match="must grow"):
        EndpointerConfig(turn_max_wait_s=0.5)
    with pytest.raises(ValueError, match="turn_commit_threshold"):
        EndpointerConfig(turn_commit_threshold=0.3)
    with pytest.raises(ValueError, match="turn_fall_threshold"):
        EndpointerConfig(turn_fall_threshold=0.95)  # over turn_commit_threshold
    with pytest.raises(ValueError, match="turn_fall_semitones"):
        EndpointerConfig(turn_fall_semitones=-2.0)
    with pytest.raises(ValueError, match="speculation_pause_s"):
        EndpointerConfig(speculation_pause_s=0.0)
