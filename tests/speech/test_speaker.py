"""Speakers: the WAV sink's timeline (exact sample offsets), stop and position; the
PortAudio speaker through PulseAudio, whose null sink's monitor records exactly what it played."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from agent.speech import SoundDeviceSpeaker, Speaker, WavSink
from tests.audio.corpus import ROOT
from tests.speech.play_on_device import signal
from tests.virtual_mic import VirtualMicrophone

RECORD_MONITOR = [
    *("pacat", "-r", "--device=vspk.monitor", "--raw", "--format=s16le"),
    *("--rate=16000", "--channels=1", "--latency-msec=20"),
]


def tone(samples: int, value: int = 1000) -> np.ndarray:
    return np.full(samples, value, dtype=np.int16)


async def test_the_wav_sink_puts_audio_at_exact_offsets_with_silence_between(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.wav"
    sink = WavSink(path, sample_rate=16_000)
    assert isinstance(sink, Speaker)
    first = await sink.play(tone(800, 1000), at=1.0)
    second = await sink.play(tone(400, 2000), at=1.05)  # overlaps the first: queued after it
    third = await sink.play(tone(160, 3000), at=2.5)
    await sink.aclose()
    audio, rate = sf.read(path, dtype="int16")
    assert rate == 16_000 and audio.size == 40_000 + 160
    assert (first.start, second.start, third.start) == (16_000, 16_800, 40_000)
    assert not audio[:16_000].any()
    assert (audio[16_000:16_800] == 1000).all() and (audio[16_800:17_200] == 2000).all()
    assert not audio[17_200:40_000].any() and (audio[40_000:] == 3000).all()
    assert all(p.done and p.played == p.samples for p in (first, second, third))


async def test_with_a_clock_the_sink_plays_what_the_clock_passed_and_stop_drops_the_rest(
    tmp_path: Path,
) -> None:
    now = [0.0]
    path = tmp_path / "clocked.wav"
    sink = WavSink(path, sample_rate=16_000, clock=lambda: now[0])
    voice_like = np.tile(np.array([1000, -1000], dtype=np.int16), 8000)
    playback = await sink.play(voice_like)  # starts at the clock: sample 0
    now[0] = 0.25
    assert sink.position == 4000 and playback.played == 4000 and sink.playing
    assert sink.level_dbfs > -40
    sink.stop()
    assert playback.stopped and playback.done and playback.played == 4000
    now[0] = 1.0
    later = await sink.play(tone(100, 5), at=None)
    assert later.start == 16_000  # idle: it starts at the clock
    now[0] = 2.0
    await later.wait()
    await sink.aclose()
    audio, _ = sf.read(path, dtype="int16")
    assert (audio[:4000] == voice_like[:4000]).all() and not audio[4000:16_000].any()
    assert (audio[16_000:16_100] == 5).all()


def test_the_sound_device_speaker_is_a_speaker() -> None:
    assert isinstance(SoundDeviceSpeaker(), Speaker)


def _play_and_record(
    mic: VirtualMicrophone, folder: Path, *arguments: str
) -> tuple[dict[str, Any], np.ndarray]:
    """Run `play_on_device` while recording the null sink's monitor; its result and the audio."""
    recording = folder / "monitor.raw"
    with recording.open("wb") as out:
        recorder = subprocess.Popen(
            RECORD_MONITOR,
            env=mic.env,
            stdout=out,
        )
        try:
            _wait_for_bytes(recording, 3200)  # the recorder is connected and capturing
            done = subprocess.run(
                [sys.executable, "-m", "tests.speech.play_on_device", *arguments],
                env=mic.env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            _wait_for_bytes(recording, recording.stat().st_size + 6400)  # 0.2 s more
        finally:
            recorder.terminate()
            recorder.wait(timeout=10)
    result = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    assert done.returncode == 0 and "error" not in result, (done.stdout, done.stderr)
    return result, np.frombuffer(recording.read_bytes(), dtype="<i2").astype(np.int64)


FIRST_BLOCK = 16_000 * 20 // 1000
"""The sound server may smear the first block while a fresh stream starts."""


@pytest.mark.pulse
@pytest.mark.timeout(90)
def test_the_device_speaker_plays_exactly_its_samples(
    virtual_mic: VirtualMicrophone, tmp_path: Path
) -> None:
    result, heard = _play_and_record(virtual_mic, tmp_path)
    assert result["played"] == 16_000
    assert result["default_outputs"] == ["default"]
    played = signal().astype(np.int64)
    offset = _alignment(heard, played)
    assert offset >= 0, "the recording began after playback did"
    same = heard[offset : offset + played.size] == played  # no resampling, no gain, no loss
    assert same[FIRST_BLOCK:].all(), np.flatnonzero(~same)[:10]
    assert not heard[offset + played.size :].any()


@pytest.mark.pulse
@pytest.mark.timeout(90)
def test_stop_silences_the_device_after_exactly_the_samples_counted_as_played(
    virtual_mic: VirtualMicrophone, tmp_path: Path
) -> None:
    result, heard = _play_and_record(virtual_mic, tmp_path, "--stop-after", "0.5")
    played = signal(5.0).astype(np.int64)[: result["played"]]
    assert 8_000 <= played.size < 5 * 16_000  # stopped long before the end
    offset = _alignment(heard, played)
    assert offset >= 0
    same = heard[offset : offset + played.size] == played
    assert same[FIRST_BLOCK:].all(), np.flatnonzero(~same)[:10]
    assert not heard[offset + played.size :].any()  # nothing after the position it reported


def _alignment(heard: np.ndarray, played: np.ndarray) -> int:
    """Where `played` starts in `heard` (cross-correlation)."""
    size = 1 << int(np.ceil(np.log2(heard.size + played.size)))
    spectrum = np.fft.rfft(heard, size) * np.conj(np.fft.rfft(played, size))
    lag = int(np.argmax(np.fft.irfft(spectrum, size)))
    return lag if lag < size - played.size else lag - size


def _wait_for_bytes(path: Path, count: int) -> None:
    deadline = time.monotonic() + 20
    while path.stat().st_size < count:
        assert time.monotonic() < deadline, "the recorder captured nothing"
        time.sleep(0.05)
