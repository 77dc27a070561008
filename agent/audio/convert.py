"""Any audio → 16 kHz mono int16, and back to WAV bytes.

Voxtral hears 16 kHz mono; vLLM refuses stereo and headerless PCM. Everything that enters the
framework (files, bytes, arrays from a microphone) goes through `to_pcm16` once, so the rest of
the code only ever sees one format.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

from agent.errors import BadAudioError

__all__ = [
    "PCM16",
    "SAMPLE_RATE",
    "check_audio_path",
    "decode_audio",
    "duration_seconds",
    "encode_wav",
    "float_to_pcm16",
    "mono_float32",
    "require_rate",
    "to_pcm16",
    "unreadable_audio",
]

SAMPLE_RATE = 16_000
"""The one rate used inside the framework (Voxtral's native rate)."""

PCM16 = npt.NDArray[np.int16]


def require_rate(sample_rate: int | None, *, name: str) -> int:
    """The rate of an array, which the caller must give: samples do not carry their rate.

    Taking a 48 kHz recording for 16 kHz would slow it down threefold without a word.
    """
    if sample_rate is None:
        raise BadAudioError(
            f"{name}: samples need their rate: pass sample_rate= (in Hz, e.g. "
            f"sample_rate=16000, or 48000 for a 48 kHz recording); files carry their own"
        )
    return sample_rate


def to_pcm16(samples: npt.ArrayLike, sample_rate: int, *, name: str = "audio") -> PCM16:
    """Convert samples of any dtype, rate and channel count to 16 kHz mono int16.

    Args:
        samples: shape `(n,)` or `(n, channels)`; int8/16/32, uint8 (unsigned 8-bit WAV)
            or float in [-1, 1].
        sample_rate: the rate of `samples` in Hz.
        name: what to call the audio in error messages.
    """
    array = np.asarray(samples)
    if sample_rate <= 0:
        raise BadAudioError(f"{name}: sample rate must be positive, got {sample_rate}")
    if array.dtype == np.int16 and array.ndim == 1 and sample_rate == SAMPLE_RATE:
        return array.copy()  # already in the framework's format: bit-exact, still a new array
    floats = mono_float32(array, name=name)
    if sample_rate != SAMPLE_RATE and floats.size:
        floats = soxr.resample(floats, sample_rate, SAMPLE_RATE, quality="HQ")
    return float_to_pcm16(floats)


def mono_float32(samples: npt.ArrayLike, *, name: str = "audio") -> npt.NDArray[np.float32]:
    """Mix samples of shape `(n,)` or `(n, channels)` and any dtype down to mono float32.

    Non-finite values (NaN, inf) are replaced so they cannot poison later stages.
    """
    array = np.asarray(samples)
    if array.ndim == 2:
        if array.shape[1] == 0:
            raise BadAudioError(f"{name}: has zero channels")
        floats = _as_float(array, name).mean(axis=1, dtype=np.float32)
    elif array.ndim == 1:
        floats = _as_float(array, name)
    else:
        raise BadAudioError(
            f"{name}: expected shape (n,) or (n, channels), got an array of shape {array.shape}"
        )
    if not np.all(np.isfinite(floats)):
        floats = np.nan_to_num(floats, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.asarray(floats, dtype=np.float32)


def float_to_pcm16(floats: npt.NDArray[np.floating[Any]]) -> PCM16:
    """Float samples in [-1, 1] to int16, clipping anything beyond full scale.

    The scale is 32768, the inverse of reading int16 as float (libsndfile's convention), so
    16-bit audio survives a float round trip bit for bit; +1.0 clips to 32767.
    """
    return np.asarray(np.clip(np.round(floats * 32768.0), -32768, 32767), dtype=np.int16)


def _as_float(array: npt.NDArray[Any], name: str) -> npt.NDArray[np.float32]:
    kind = array.dtype.kind
    if kind == "f":
        return array.astype(np.float32, copy=False)
    if kind == "i":
        scale = float(np.iinfo(array.dtype).max) + 1.0
        return (array.astype(np.float32) / scale).astype(np.float32, copy=False)
    if kind == "u":
        info = np.iinfo(array.dtype)
        middle = (float(info.max) + 1.0) / 2.0
        return ((array.astype(np.float32) - middle) / middle).astype(np.float32, copy=False)
    if kind == "b":
        return array.astype(np.float32)
    raise BadAudioError(
        f"{name}: unsupported sample type {array.dtype}; use int16, int32 or float32 samples"
    )


def decode_audio(source: str | os.PathLike[str] | bytes, *, name: str | None = None) -> PCM16:
    """Decode a WAV/FLAC/OGG/MP3 file (path or bytes) to 16 kHz mono int16.

    Raises `BadAudioError` naming the file for anything that is not decodable audio.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        label = name or "audio bytes"
        data = bytes(source)
        if not data:
            raise BadAudioError(f"{label}: empty (0 bytes)")
        handle: Any = io.BytesIO(data)
    else:
        path = Path(source)
        label = name or str(path)
        check_audio_path(path, label)
        handle = str(path)
    try:
        samples, rate = sf.read(handle, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise unreadable_audio(label, exc) from exc
    if samples.shape[0] == 0:
        raise BadAudioError(f"{label}: holds no samples")
    return to_pcm16(samples, int(rate), name=label)


def unreadable_audio(label: str, error: Exception) -> BadAudioError:
    """The error for a file the decoder refused (not audio, or a format it does not know)."""
    return BadAudioError(f"{label}: not readable audio ({error}); use WAV, FLAC, OGG or MP3")


def check_audio_path(path: Path, label: str | None = None) -> None:
    """Raise `BadAudioError` unless `path` is a non-empty file (before any decoder sees it)."""
    label = label or str(path)
    if not path.exists():
        raise BadAudioError(f"{label}: no such file")
    if path.is_dir():
        raise BadAudioError(f"{label}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise BadAudioError(f"{label}: empty file (0 bytes)")


def encode_wav(pcm: npt.ArrayLike, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Encode mono int16 samples as the bytes of a 16-bit PCM WAV file."""
    array = np.asarray(pcm)
    if array.dtype != np.int16:
        array = to_pcm16(array, sample_rate)
        sample_rate = SAMPLE_RATE
    buffer = io.BytesIO()
    sf.write(buffer, array, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def duration_seconds(pcm: npt.ArrayLike, sample_rate: int = SAMPLE_RATE) -> float:
    """Length of mono samples in seconds."""
    return int(np.asarray(pcm).shape[0]) / float(sample_rate)
