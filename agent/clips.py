"""Turn whatever the caller passes as `audio=` into clips the server will accept.

A clip is 16 kHz mono int16 audio with a name for error messages. Everything is converted
(stereo, other rates, float samples) and checked against the server's per-item limits before
any request is sent, so a bad clip is a local `BadAudioError` (a `ValueError`), not a 400.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import numpy as np
import numpy.typing as npt
import soundfile as sf
from mistral_common.tokens.tokenizers.audio import Audio

from agent.audio.convert import (
    PCM16,
    SAMPLE_RATE,
    decode_audio,
    encode_wav,
    require_rate,
    to_pcm16,
)
from agent.errors import AudioTooLongError, BadAudioError
from agent.limits import (
    AUDIO_TOKENS_PER_30S,
    MAX_AUDIO_BYTES,
    MAX_AUDIO_ITEMS,
    MAX_AUDIO_SECONDS,
    audio_tokens,
)
from tools._threads import run_blocking

if TYPE_CHECKING:
    from agent.audio.utterance import Utterance

__all__ = [
    "AUDIO_TOKENS_PER_30S",
    "MAX_AUDIO_BYTES",
    "MAX_AUDIO_ITEMS",
    "MAX_AUDIO_SECONDS",
    "AudioInput",
    "Clip",
    "ClipSource",
    "audio_tokens",
    "decode_source",
    "load_clip",
    "load_clips",
    "load_clips_async",
]

_LIGHT_SAMPLES = 30 * SAMPLE_RATE
"""Up to this many samples (30 s) a clip is converted on the event loop (well under 1 ms)."""

ClipSource: TypeAlias = (
    "str | os.PathLike[str] | bytes | bytearray | npt.NDArray[Any] | Audio | Utterance | Clip"
)
"""One clip: a path, WAV/FLAC/OGG/MP3 bytes, a sample array, a mistral-common `Audio`, or an
`agent.audio.Utterance` (any object with `pcm` and `sample_rate`)."""

AudioInput: TypeAlias = "ClipSource | Sequence[ClipSource]"
"""What `Agent.run(audio=...)` accepts: one clip or a list of clips."""


@dataclass(eq=False)
class Clip:
    """One audio item ready to send: 16 kHz mono int16 samples and a name for messages
    (and, for a piece of a longer recording, where in it the piece lies)."""

    pcm: PCM16
    name: str = "audio"
    source_range: tuple[float, float] | None = None
    """For a clip cut out of a longer recording: the (start, end) seconds it holds."""
    _wav: bytes | None = field(default=None, init=False, repr=False)
    _base64: str | None = field(default=None, init=False, repr=False)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return int(self.pcm.shape[0]) / SAMPLE_RATE

    @property
    def tokens(self) -> int:
        """Prompt tokens this clip costs (376 per started 30 s)."""
        return audio_tokens(self.duration)

    def wav(self) -> bytes:
        """The clip as 16-bit mono WAV bytes (encoded once, then cached)."""
        if self._wav is None:
            self._wav = encode_wav(self.pcm)
        return self._wav

    def base64(self) -> str:
        """The WAV bytes in base64, as an `input_audio` part carries them (cached)."""
        if self._base64 is None:
            self._base64 = base64.b64encode(self.wav()).decode("ascii")
        return self._base64


def load_clips(audio: AudioInput, *, sample_rate: int | None = None) -> list[Clip]:
    """Convert one clip or a list of up to 5 clips; raises `BadAudioError` on anything wrong."""
    if isinstance(audio, list | tuple):
        if not audio:
            raise BadAudioError("audio: an empty list; pass one clip or a list of 1 to 5 clips")
        if len(audio) > MAX_AUDIO_ITEMS:
            raise BadAudioError(
                f"audio: {len(audio)} clips in one turn; the server accepts at most "
                f"{MAX_AUDIO_ITEMS} audio items per request"
            )
        return [
            load_clip(item, sample_rate=sample_rate, name=f"audio[{index}]")
            for index, item in enumerate(audio)
        ]
    return [load_clip(cast("ClipSource", audio), sample_rate=sample_rate)]


async def load_clips_async(audio: AudioInput, *, sample_rate: int | None = None) -> list[Clip]:
    """`load_clips` without blocking the event loop: files, bytes and long or resampled
    arrays are decoded and encoded in a worker thread; short 16 kHz arrays inline."""
    if _is_light(audio, sample_rate):
        return load_clips(audio, sample_rate=sample_rate)

    def prepare() -> list[Clip]:
        clips = load_clips(audio, sample_rate=sample_rate)
        for clip in clips:
            clip.base64()
        return clips

    return await run_blocking(prepare)


def _is_light(audio: object, sample_rate: int | None) -> bool:
    """True for in-memory 16 kHz arrays short enough to convert on the event loop."""
    items = audio if isinstance(audio, list | tuple) else [audio]
    if sample_rate not in (None, SAMPLE_RATE):
        return False
    total = 0
    for item in items:
        if not isinstance(item, np.ndarray):
            pcm = getattr(item, "pcm", None)
            if not isinstance(pcm, np.ndarray) or getattr(item, "sample_rate", None) != SAMPLE_RATE:
                return False
            item = pcm
        total += int(item.size)
    return total <= _LIGHT_SAMPLES


def load_clip(source: ClipSource, *, sample_rate: int | None = None, name: str = "audio") -> Clip:
    """Convert one clip to 16 kHz mono int16 and check it against the server's limits.

    Args:
        source: a path (WAV/FLAC/OGG/MP3), the bytes of such a file, a numpy array
            (int16 or float32, shape `(n,)` or `(n, channels)`), a mistral-common `Audio`,
            or an object with `pcm` and `sample_rate` (an `Utterance`).
        sample_rate: the rate of a numpy array (required: samples do not carry their rate);
            ignored for files.
        name: how to call the clip in error messages.
    """
    pcm, label = _decode(source, sample_rate, name)
    if pcm.shape[0] == 0:
        raise BadAudioError(f"{label}: empty (no samples); record or pass some audio")
    clip = Clip(pcm=pcm, name=label)
    _check_duration(clip.duration, label)
    # 600 s of 16 kHz PCM16 is 19.2 MB, so this only bites if the limits change.
    _check_encoded_size(44 + 2 * int(pcm.shape[0]), label)
    return clip


def _check_duration(seconds: float, label: str) -> None:
    """Refuse audio the server would refuse as one item (over 600 s once decoded)."""
    if seconds > MAX_AUDIO_SECONDS:
        raise AudioTooLongError(
            f"{label}: {seconds:.1f} s long; the server refuses audio over "
            f"{MAX_AUDIO_SECONDS:.0f} s per item: split it into shorter clips"
        )


def _check_header_duration(file: str | bytes, label: str) -> None:
    """`_check_duration` on the length a file's header states, before decoding it all (an
    11-minute MP3 is 450 MB of samples). A header that cannot be read is the decoder's to
    report."""
    try:
        info = sf.info(io.BytesIO(file) if isinstance(file, bytes) else file)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return
    if info.samplerate > 0 and info.frames > 0:
        _check_duration(info.frames / info.samplerate, label)


def _check_encoded_size(size: int, label: str) -> None:
    """Refuse an audio file the server would refuse as one item (over 25 MB encoded)."""
    if size > MAX_AUDIO_BYTES:
        raise BadAudioError(
            f"{label}: {size / 2**20:.1f} MB encoded; the server refuses audio items over "
            f"{MAX_AUDIO_BYTES / 2**20:.0f} MB: split it into shorter clips"
        )


def decode_source(
    source: ClipSource, *, sample_rate: int | None = None, name: str = "audio"
) -> tuple[PCM16, str]:
    """A clip source's samples (16 kHz mono int16) and its label, with no length checks
    (a file is decoded whole: `agent.long_audio.Recording` streams files instead)."""
    return _decode(source, sample_rate, name)


def _decode(source: object, sample_rate: int | None, name: str) -> tuple[PCM16, str]:
    if isinstance(source, Clip):
        return source.pcm, source.name
    if isinstance(source, str | os.PathLike):
        label = os.fspath(source)
        if os.path.isfile(label):
            _check_encoded_size(os.path.getsize(label), label)
            _check_header_duration(label, label)
        return decode_audio(label), label
    if isinstance(source, bytes | bytearray | memoryview):
        _check_encoded_size(len(source), name)
        data = bytes(source)
        _check_header_duration(data, name)
        return decode_audio(data, name=name), name
    if isinstance(source, Audio):
        return to_pcm16(source.audio_array, int(source.sampling_rate), name=name), name
    if isinstance(source, np.ndarray):
        if source.dtype == object:
            raise BadAudioError(f"{name}: an array of Python objects is not audio")
        return to_pcm16(source, require_rate(sample_rate, name=name), name=name), name
    pcm = getattr(source, "pcm", None)
    rate = getattr(source, "sample_rate", None)
    if isinstance(pcm, np.ndarray) and isinstance(rate, int):
        return to_pcm16(pcm, rate, name=name), name
    raise BadAudioError(
        f"{name}: cannot use a {type(source).__name__} as audio; pass a file path, WAV/FLAC/"
        "OGG/MP3 bytes, a numpy array of samples (with sample_rate=) or a mistral-common Audio"
    )
