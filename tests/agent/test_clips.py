import io

import numpy as np
import pytest
import soundfile as sf
from mistral_common.tokens.tokenizers.audio import Audio

from agent.audio.convert import SAMPLE_RATE
from agent.clips import (
    MAX_AUDIO_SECONDS,
    Clip,
    audio_tokens,
    load_clip,
    load_clips,
)
from agent.errors import BadAudioError
from agent.testing import tone


def _wav(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_int16_array_is_taken_as_16k_mono() -> None:
    clip = load_clip(tone(2.0), sample_rate=16000)
    assert clip.pcm.dtype == np.int16
    assert clip.duration == pytest.approx(2.0)


def test_float_stereo_at_44k_is_converted() -> None:
    stereo = np.stack([np.linspace(-0.5, 0.5, 44100)] * 2, axis=1).astype(np.float32)
    clip = load_clip(stereo, sample_rate=44100)
    assert clip.pcm.ndim == 1
    assert clip.duration == pytest.approx(1.0, abs=0.01)


def test_wav_bytes_and_paths_decode(tmp_path) -> None:
    data = _wav(tone(0.5), 8000)  # 8000 samples at 8 kHz: 1 s
    path = tmp_path / "clip.wav"
    path.write_bytes(data)
    from_bytes = load_clip(data)
    from_path = load_clip(path)
    from_str = load_clip(str(path))
    assert from_bytes.duration == pytest.approx(1.0, abs=0.01)
    assert from_path.name == str(path)
    assert from_str.pcm.shape == from_path.pcm.shape


def test_mistral_common_audio_is_accepted() -> None:
    audio = Audio(audio_array=np.zeros(32000, dtype=np.float32), sampling_rate=32000, format="wav")
    assert load_clip(audio).duration == pytest.approx(1.0, abs=0.01)


def test_objects_with_pcm_and_sample_rate_are_accepted() -> None:
    class Utterance:
        pcm = tone(0.5)
        sample_rate = SAMPLE_RATE

    assert load_clip(Utterance()).duration == pytest.approx(0.5)


def test_wav_encoding_is_mono_pcm16_and_cached() -> None:
    clip = load_clip(tone(0.5), sample_rate=16000)
    data = clip.wav()
    info = sf.info(io.BytesIO(data))
    assert (info.channels, info.samplerate, info.subtype) == (1, 16000, "PCM_16")
    assert clip.wav() is data


@pytest.mark.parametrize(
    ("source", "words"),
    [
        (np.zeros(0, dtype=np.int16), "empty"),
        (b"", "empty"),
        (b"not audio at all", "not readable audio"),
        (12345, "cannot use a int"),
        ("/no/such/file.wav", "no such file"),
        (np.zeros((10, 2, 2), dtype=np.int16), "shape"),
    ],
)
def test_bad_clips_raise_a_clear_value_error(source: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        load_clip(source, sample_rate=16000)  # type: ignore[arg-type]


def test_too_long_audio_is_refused_before_sending() -> None:
    long = np.zeros(int((MAX_AUDIO_SECONDS + 1) * SAMPLE_RATE), dtype=np.int16)
    with pytest.raises(BadAudioError, match="600 s"):
        load_clip(long, sample_rate=16000)


def test_a_long_compressed_file_is_refused_from_its_header_without_decoding(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "long.flac"  # 601 s of silence: a few kilobytes
    sf.write(path, np.zeros(int((MAX_AUDIO_SECONDS + 1) * 8000), dtype=np.int16), 8000)

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded a file its header already ruled out")

    monkeypatch.setattr("agent.clips.decode_audio", no_decoding)
    for source, label in [(str(path), str(path)), (path.read_bytes(), "audio")]:
        with pytest.raises(BadAudioError, match=r"601\.0 s long.*600 s") as caught:
            load_clip(source)
        assert str(caught.value).startswith(f"{label}: ")


def test_a_list_holds_one_to_five_clips() -> None:
    assert len(load_clips([tone(0.2), tone(0.3)], sample_rate=16000)) == 2
    with pytest.raises(BadAudioError, match="at most 5"):
        load_clips([tone(0.1)] * 6, sample_rate=16000)
    with pytest.raises(BadAudioError, match="empty list"):
        load_clips([])


def test_clip_names_say_which_list_item_failed() -> None:
    with pytest.raises(BadAudioError, match=r"audio\[1\]"):
        load_clips([tone(0.2), b"junk"], sample_rate=16000)


@pytest.mark.parametrize(
    ("seconds", "tokens"), [(0.5, 376), (30.0, 376), (30.1, 752), (60.0, 752), (61, 1128)]
)
def test_audio_costs_376_tokens_per_started_30_seconds(seconds: float, tokens: int) -> None:
    assert audio_tokens(seconds) == tokens


def test_clip_is_its_own_source() -> None:
    clip = Clip(pcm=tone(0.1), name="x")
    assert load_clip(clip).pcm is clip.pcm


async def test_async_loading_gives_the_same_clips(tmp_path) -> None:
    from agent.clips import load_clips_async

    path = tmp_path / "clip.wav"
    path.write_bytes(_wav(tone(0.5), 8000))
    short, from_file, resampled = (
        await load_clips_async(tone(0.5), sample_rate=16000),
        await load_clips_async([path, tone(0.2)], sample_rate=16000),
        await load_clips_async(tone(0.5), sample_rate=8000),
    )
    assert short[0].duration == pytest.approx(0.5)
    assert [clip.duration for clip in from_file] == pytest.approx([1.0, 0.2], abs=0.01)
    assert resampled[0].duration == pytest.approx(1.0, abs=0.01)
    with pytest.raises(BadAudioError):
        await load_clips_async(b"junk")
