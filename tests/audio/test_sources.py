"""Sources: every input format becomes 30 ms frames of 16 kHz mono int16; bad files fail clearly."""

from __future__ import annotations

import asyncio
import itertools
import struct
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.audio import (
    FRAME_SAMPLES,
    ArraySource,
    AudioSource,
    FileReader,
    WavSource,
    decode_audio,
    segment,
    to_pcm16,
)
from agent.audio.convert import PCM16
from agent.errors import BadAudioError
from tests.audio.corpus import Corpus

RATE = 16_000


def chirp(seconds: float, rate: int) -> np.ndarray:
    """A 300 → 3000 Hz sweep at -12 dBFS peak: resampling errors would show."""
    t = np.arange(round(seconds * rate)) / rate
    return 0.25 * np.sin(2 * np.pi * (300 * t + 1350 * t**2 / seconds)).astype(np.float32)


async def collect(source: AudioSource) -> list[PCM16]:
    return [frame async for frame in source]


def check_frames(frames: list[PCM16], seconds: float) -> PCM16:
    assert frames, "no frames"
    assert all(f.dtype == np.int16 and f.ndim == 1 for f in frames)
    assert all(f.size == FRAME_SAMPLES for f in frames[:-1])
    assert 0 < frames[-1].size <= FRAME_SAMPLES
    joined = np.concatenate(frames)
    assert joined.size == pytest.approx(seconds * RATE, abs=2)
    return joined


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.size, b.size)
    a, b = a[:n].astype(np.float64), b[:n].astype(np.float64)
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))


REFERENCE = to_pcm16(chirp(1.0, RATE), RATE)


@pytest.mark.parametrize(
    ("suffix", "rate", "channels", "subtype"),
    [
        ("wav", 16000, 1, "PCM_16"),
        ("wav", 44100, 2, "FLOAT"),
        ("wav", 48000, 1, "PCM_24"),
        ("wav", 8000, 1, "PCM_U8"),
        ("wav", 22050, 6, "PCM_32"),
        ("flac", 32000, 2, "PCM_16"),
        ("ogg", 48000, 1, "VORBIS"),
        ("mp3", 44100, 2, "MPEG_LAYER_III"),
    ],
)
async def test_wav_source_converts_any_file(
    tmp_path: Path, suffix: str, rate: int, channels: int, subtype: str
) -> None:
    mono = chirp(1.0, rate)
    samples = np.repeat(mono[:, None], channels, axis=1)
    path = tmp_path / f"input.{suffix}"
    sf.write(path, samples, rate, subtype=subtype)
    source = WavSource(path)
    assert source.file_sample_rate == rate and source.channels == channels
    # lossy codecs add encoder delay and padding
    tolerance = 0.06 if suffix in ("ogg", "mp3") else 0.0
    frames = await collect(source)
    joined = np.concatenate(frames)
    assert abs(joined.size / RATE - 1.0) <= tolerance + 2 / RATE
    assert all(f.size == FRAME_SAMPLES for f in frames[:-1])
    if suffix in ("ogg", "mp3"):
        lag = int(np.argmax(np.correlate(joined[:4000].astype(float), REFERENCE[:2000], "valid")))
        joined = joined[lag:]
    threshold = 0.9 if subtype == "PCM_U8" or suffix in ("ogg", "mp3") else 0.999
    assert correlation(joined, REFERENCE) > threshold


async def test_streamed_file_equals_decoding_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    sf.write(path, chirp(7.3, 44100), 44100)
    streamed = check_frames(await collect(WavSource(path, block_seconds=0.37)), 7.3)
    whole = decode_audio(path)
    # block boundaries leave no trace: the streaming resampler matches the one-shot one
    assert np.max(np.abs(streamed.astype(int) - whole.astype(int))) <= 2


@pytest.mark.parametrize(
    ("dtype", "scale"),
    [(np.int16, 32767), (np.int32, 2**31 - 1), (np.float32, 1.0), (np.float64, 1.0)],
)
async def test_array_source_converts_dtypes(dtype: type, scale: float) -> None:
    samples = (chirp(0.5, RATE) * scale).astype(dtype)
    joined = check_frames(await collect(ArraySource(samples, RATE)), 0.5)
    assert correlation(joined, to_pcm16(chirp(0.5, RATE), RATE)) > 0.999


async def test_array_source_converts_rate_and_channels() -> None:
    stereo = np.stack([chirp(0.5, 48000), chirp(0.5, 48000)], axis=1)
    joined = check_frames(await collect(ArraySource(stereo, sample_rate=48000)), 0.5)
    assert correlation(joined, to_pcm16(chirp(0.5, RATE), RATE)) > 0.999


async def test_array_source_passes_16k_int16_through_exactly() -> None:
    samples = np.arange(-5000, 5000, dtype=np.int16)
    assert np.array_equal(np.concatenate(await collect(ArraySource(samples, RATE))), samples)


async def test_realtime_paces_like_a_microphone() -> None:
    source = ArraySource(np.zeros(round(0.3 * RATE), dtype=np.int16), RATE, realtime=True)
    started = time.perf_counter()
    frames = await collect(source)
    assert len(frames) == 10
    assert time.perf_counter() - started >= 0.27


async def test_fast_source_lets_other_tasks_run() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await collect(ArraySource(np.zeros(60 * RATE, dtype=np.int16), RATE))
    task.cancel()
    assert ticks > 10


async def test_aclose_stops_iteration_and_closes(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, chirp(5.0, RATE), RATE)
    async with WavSource(path) as source:
        count = 0
        async for _ in source:
            count += 1
            if count == 3:
                await source.aclose()
        assert count == 3
    assert source.closed
    with pytest.raises(RuntimeError, match="closed"):
        aiter(source)


async def test_aclose_from_another_task_ends_a_paced_iteration() -> None:
    source = ArraySource(np.zeros(10 * RATE, dtype=np.int16), RATE, realtime=True)
    frames: list[PCM16] = []

    async def consume() -> None:
        async for frame in source:
            frames.append(frame)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    await source.aclose()
    await asyncio.wait_for(task, 1.0)
    assert 3 <= len(frames) < 30


# -- bad files ------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadAudioError, match="no such file"):
        WavSource(tmp_path / "nope.wav")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(BadAudioError, match="directory"):
        WavSource(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(BadAudioError, match="empty"):
        WavSource(path)


def test_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is a text file, not a recording\n" * 20)
    with pytest.raises(BadAudioError, match=r"not readable audio.*WAV, FLAC, OGG or MP3"):
        WavSource(path)


def test_header_without_samples(tmp_path: Path) -> None:
    path = tmp_path / "header.wav"
    sf.write(path, np.zeros(0, dtype=np.int16), RATE)
    with pytest.raises(BadAudioError, match="no samples"):
        WavSource(path)


async def test_truncated_file_gives_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    sf.write(path, chirp(2.0, RATE), RATE, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 1])  # the header still claims 2 s; odd byte count
    frames = await collect(WavSource(path))
    assert np.concatenate(frames).size == pytest.approx(RATE, abs=FRAME_SAMPLES)


def write_sparse_wav(path: Path, seconds: int, rate: int = 8000) -> None:
    """A valid 16-bit mono WAV of `seconds` whose data is a sparse hole (instant, no disk)."""
    data_bytes = seconds * rate * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    with path.open("wb") as handle:
        handle.write(header)
        handle.truncate(len(header) + data_bytes)


async def test_three_hour_file_is_streamed_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "three_hours.wav"
    write_sparse_wav(path, 3 * 3600)
    source = WavSource(path)
    assert source.duration == pytest.approx(3 * 3600)
    tracemalloc.start()
    try:
        count = 0
        async for frame in source:
            count += 1
            assert not frame.any()
            if count == 2000:  # one minute in
                break
        await source.aclose()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the whole file at 16 kHz int16 would be 345 MB; streaming holds about one block
    assert peak < 5_000_000


def test_three_hour_file_reader_reads_blocks(tmp_path: Path) -> None:
    path = tmp_path / "three_hours.wav"
    write_sparse_wav(path, 3 * 3600)
    reader = FileReader(path, block_frames=8000)
    block = reader.read()
    reader.close()
    # one second in; the streaming resampler holds back its filter delay until the next block
    assert block is not None and 0.9 * RATE < block.size <= RATE


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_an_array_without_its_rate_is_refused_naming_the_parameter(dtype: type) -> None:
    samples = np.zeros(RATE, dtype=dtype)
    with pytest.raises(BadAudioError, match="sample_rate="):
        ArraySource(samples)
    with pytest.raises(BadAudioError, match="sample_rate="):
        segment(samples)
    assert ArraySource(samples, RATE).duration == pytest.approx(1.0)
    assert ArraySource(samples, 48000).duration == pytest.approx(1 / 3, abs=1e-3)
    assert segment(samples, sample_rate=RATE) == []


# -- every format, rate, channel count and dtype ---------------------------------------------


def sine(seconds: float, rate: int, channels: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t)
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32)


def dominant_frequency(pcm: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(pcm.size)))
    return float(np.argmax(spectrum) * RATE / pcm.size)


async def frames_of(source: WavSource | ArraySource) -> list[np.ndarray]:
    return [frame async for frame in source]


FORMATS = [
    ("wav", "PCM_16"),
    ("wav", "PCM_32"),
    ("wav", "FLOAT"),
    ("wav", "PCM_U8"),
    ("flac", "PCM_16"),
    ("ogg", "VORBIS"),
    ("mp3", "MPEG_LAYER_III"),
]


FILE_CASES = [
    pytest.param(suffix, subtype, rate, channels, id=f"{channels}-{rate}-{suffix}-{subtype}")
    for channels, rate, (suffix, subtype) in itertools.product(
        [1, 2, 6], [8000, 22050, 44100, 48000], FORMATS
    )
    if not (suffix == "mp3" and channels > 2)  # MP3 holds at most two channels
]


@pytest.mark.parametrize(("suffix", "subtype", "rate", "channels"), FILE_CASES)
async def test_wav_source_converts_every_format_rate_and_channel_count(
    tmp_path: Path, suffix: str, subtype: str, rate: int, channels: int
) -> None:
    path = tmp_path / f"tone.{suffix}"
    sf.write(path, sine(1.0, rate, channels), rate, subtype=subtype)
    frames = await frames_of(WavSource(path))
    assert all(f.dtype == np.int16 and f.ndim == 1 for f in frames)
    assert all(f.size == 480 for f in frames[:-1])
    pcm = np.concatenate(frames)
    assert pcm.size == pytest.approx(RATE, abs=0.06 * RATE)  # mp3 pads a little
    assert dominant_frequency(pcm[1600:-1600]) == pytest.approx(440.0, abs=5.0)
    rms = float(np.sqrt(np.mean((pcm[1600:-1600] / 32768.0) ** 2)))
    lossy = suffix in ("ogg", "mp3")  # Vorbis treats a 6th channel as band-limited LFE
    assert rms == pytest.approx(0.3 / np.sqrt(2), rel=0.3 if lossy else 0.02)


@pytest.mark.parametrize(
    ("dtype", "scale", "offset"),
    [(np.int16, 32767, 0), (np.int32, 2**31 - 1, 0), (np.float32, 1.0, 0), (np.uint8, 127, 128)],
)
async def test_array_source_converts_dtypes_of_48_khz_stereo(
    dtype: type, scale: float, offset: float
) -> None:
    wave = sine(0.5, 48000, 2)
    samples = (wave * scale + offset).astype(dtype)
    pcm = np.concatenate(await frames_of(ArraySource(samples, 48000)))
    assert pcm.dtype == np.int16 and pcm.size == pytest.approx(RATE / 2, abs=2)
    assert dominant_frequency(pcm) == pytest.approx(440.0, abs=5.0)
    rms = float(np.sqrt(np.mean((pcm[800:-800] / 32768.0) ** 2)))
    assert rms == pytest.approx(0.3 / np.sqrt(2), rel=0.05)


def test_bad_files_give_clear_errors(tmp_path: Path) -> None:
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not audio at all")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    for path, words in [
        (not_audio, "not readable audio"),
        (empty, "empty"),
        (tmp_path / "missing.wav", "no such file"),
        (tmp_path, "directory"),
    ]:
        with pytest.raises(BadAudioError, match=words) as caught:
            WavSource(path)
        assert str(path) in str(caught.value)
        with pytest.raises(BadAudioError, match=words):
            segment(path)


def test_a_truncated_file_is_read_as_far_as_it_goes(tmp_path: Path, corpus: Corpus) -> None:
    whole = corpus.path("clean").read_bytes()
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(whole[: len(whole) // 2])
    found = segment(truncated)  # the header promises more than there is: no crash
    truth = corpus.utterances("clean")
    assert 0 < len(found) < len(truth)
    assert found[0].start == pytest.approx(truth[0]["start"], abs=0.12)


async def test_realtime_wav_source_paces_like_a_microphone(tmp_path: Path) -> None:
    path = tmp_path / "second.wav"
    sf.write(path, sine(1.2, 44100, 2), 44100)
    started = time.monotonic()
    fast = await frames_of(WavSource(path))
    fast_seconds = time.monotonic() - started
    started = time.monotonic()
    arrivals: list[float] = []
    async for _ in WavSource(path, realtime=True):
        arrivals.append(time.monotonic() - started)
    assert len(arrivals) == len(fast)
    assert fast_seconds < 0.6
    assert arrivals[-1] == pytest.approx(1.2, abs=0.25)
    assert arrivals[len(arrivals) // 2] == pytest.approx(0.6, abs=0.2)  # steady, not a burst
