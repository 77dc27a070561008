"""Format conversion: any dtype, rate and channel count to 16 kHz mono int16, and back to WAV."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.audio import (
    Reframer,
    StreamConverter,
    decode_audio,
    duration_seconds,
    encode_wav,
    to_pcm16,
)
from agent.errors import BadAudioError


def sine(rate: int, seconds: float = 0.5, frequency: float = 440.0) -> np.ndarray:
    return 0.5 * np.sin(2 * np.pi * frequency * np.arange(round(rate * seconds)) / rate)


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        (np.array([0, 16384, -32768], dtype=np.int16), [0, 16384, -32768]),
        (np.array([0.0, 0.5, -1.0, 1.0], dtype=np.float32), [0, 16384, -32768, 32767]),
        (np.array([128, 192, 0], dtype=np.uint8), [0, 16384, -32768]),
        (np.array([0, 2**30, -(2**31)], dtype=np.int32), [0, 16384, -32768]),
    ],
)
def test_dtypes_map_to_int16_full_scale(samples: np.ndarray, expected: list[int]) -> None:
    assert to_pcm16(samples, 16000).tolist() == expected


def test_channels_are_mixed_down_and_rates_resampled() -> None:
    stereo = np.stack([sine(44100), sine(44100)], axis=1)
    pcm = to_pcm16(stereo, 44100)
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    assert duration_seconds(pcm) == pytest.approx(0.5, abs=1e-3)
    assert np.abs(pcm).max() == pytest.approx(0.5 * 32768, rel=0.02)


def test_bad_arrays_are_refused_clearly() -> None:
    with pytest.raises(BadAudioError, match="sample rate"):
        to_pcm16(np.zeros(10), 0)
    with pytest.raises(BadAudioError, match="zero channels"):
        to_pcm16(np.zeros((10, 0)), 16000)
    with pytest.raises(BadAudioError, match="unsupported sample type"):
        to_pcm16(np.array(["a", "b"]), 16000)
    assert to_pcm16(np.array([np.nan, np.inf]), 16000).tolist() == [0, 32767]


def test_encode_and_decode_round_trip(tmp_path: Path) -> None:
    pcm = to_pcm16(sine(16000), 16000)
    wav = encode_wav(pcm)
    assert np.array_equal(decode_audio(wav), pcm)
    path = tmp_path / "a.flac"
    sf.write(path, sine(48000), 48000)
    assert duration_seconds(decode_audio(path)) == pytest.approx(0.5, abs=1e-3)
    assert sf.info(io.BytesIO(encode_wav(sine(8000), 8000))).samplerate == 16000


def test_stream_converter_matches_one_shot_conversion() -> None:
    samples = sine(22050, seconds=2.0, frequency=300.0)
    converter = StreamConverter(22050)
    pieces = [converter.convert(samples[i : i + 1000]) for i in range(0, samples.size, 1000)]
    pieces.append(converter.convert(np.zeros(0), last=True))
    streamed = np.concatenate(pieces)
    whole = to_pcm16(samples, 22050)
    assert streamed.size == whole.size
    assert np.max(np.abs(streamed.astype(int) - whole.astype(int))) <= 2
    with pytest.raises(BadAudioError, match="sample rate"):
        StreamConverter(-1)


def test_reframer_cuts_exact_frames_and_keeps_the_rest() -> None:
    reframer = Reframer(480)
    frames = list(reframer.push(np.arange(1000, dtype=np.int16)))
    assert [f.size for f in frames] == [480, 480]
    frames = list(reframer.push(np.arange(1000, 1500, dtype=np.int16)))
    assert [f.tolist() for f in frames] == [list(range(960, 1440))]
    rest = reframer.flush()
    assert rest is not None and rest.tolist() == list(range(1440, 1500))
    assert reframer.flush() is None
    with pytest.raises(ValueError, match="frame_samples"):
        Reframer(0)
