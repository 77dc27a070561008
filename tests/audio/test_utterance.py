"""`Utterance`: its audio, times and WAV export."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.audio import Utterance, segment


def test_to_wav_round_trips_and_times_add_up() -> None:
    pcm = (np.sin(np.arange(8000) / 10) * 8000).astype(np.int16)
    u = Utterance(pcm=pcm, start=1.3, end=1.6, emitted_at=2.3)
    data, rate = sf.read(io.BytesIO(u.to_wav()), dtype="int16")
    info = sf.info(io.BytesIO(u.to_wav()))
    assert rate == 16000 and info.channels == 1 and info.subtype == "PCM_16"
    assert np.array_equal(data, pcm)
    assert u.sample_rate == 16000
    assert u.duration == pytest.approx(0.5)
    assert u.speech_duration == pytest.approx(0.3)
    assert not u.truncated
    assert "start=1.30" in repr(u) and "duration=0.50" in repr(u)


def test_to_wav_is_a_decodable_16_bit_mono_wav(session_wav: Path) -> None:
    u = segment("session.wav")[0]
    data = u.to_wav()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    info = sf.info(io.BytesIO(data))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == 16000
    np.testing.assert_array_equal(samples, u.pcm)
