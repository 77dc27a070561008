"""Long recordings in a turn: a clip over one audio item's limit becomes several items.

`Agent.run(audio=...)` loads its clips here. A clip the server takes as one item (600 s,
25 MB) loads as before; a longer one is cut at pauses into items of at most 600 s (pauses
inside them shortened, silence at their edges left out), all in the same user message. The
request still carries at most `max_items` audio items; whether they fit the server's context
with the question and the reply reserve is the history's check (`AudioTooLongError`, which
says how many minutes fit).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import cast

from agent.clips import AudioInput, Clip, ClipSource, load_clip, load_clips_async
from agent.errors import AudioTooLongError, BadAudioError
from agent.limits import MAX_AUDIO_BYTES, MAX_AUDIO_ITEMS, MAX_AUDIO_SECONDS
from agent.long_audio.pieces import plan_pieces
from agent.long_audio.recording import Recording
from agent.long_audio.transcribe import clock
from tools._threads import run_blocking

__all__ = ["load_turn_clips", "load_turn_clips_async", "split_recording"]


def split_recording(
    source: ClipSource,
    *,
    sample_rate: int | None = None,
    name: str | None = None,
    max_items: int = MAX_AUDIO_ITEMS,
) -> list[Clip]:
    """`source` as clips of at most 600 s each, cut at pauses (blocking).

    Each clip's `source_range` says which stretch of the recording it holds.

    Raises:
        AudioTooLongError: more than `max_items` clips would be needed.
        BadAudioError: the recording is unreadable, or holds no speech at all.
    """
    recording = Recording(source, sample_rate=sample_rate, name=name)
    clips: list[Clip] = []
    for piece in plan_pieces(recording, MAX_AUDIO_SECONDS):
        if len(clips) == max_items:
            raise AudioTooLongError(
                f"{recording.name}: {recording.duration / 60:.1f} min of audio needs more than "
                f"{max_items} audio items of at most {MAX_AUDIO_SECONDS / 60:.0f} min, and one "
                f"request carries at most {max_items} (about "
                f"{max_items * MAX_AUDIO_SECONDS / 60:.0f} min of speech): send a shorter "
                "recording, or transcribe it (`voxagent transcribe`) and ask about the text"
            )
        start, end = piece.spans[0][0], piece.spans[-1][1]
        clips.append(
            Clip(
                recording.read(piece.spans),
                name=f"{recording.name} [{clock(start)}–{clock(end)}]",
                source_range=(start, end),
            )
        )
    if not clips:
        raise BadAudioError(
            f"{recording.name}: {recording.duration:.1f} s with no speech in it; nothing to send"
        )
    return clips


def load_turn_clips(
    audio: AudioInput, *, sample_rate: int | None = None, max_items: int = MAX_AUDIO_ITEMS
) -> list[Clip]:
    """A turn's clips: each source as one clip, or several when it is over one item's limit
    (blocking)."""
    sources = list(audio) if isinstance(audio, list | tuple) else [audio]
    if not sources:
        raise BadAudioError("audio: an empty list; pass one clip or a list of 1 to 5 clips")
    several = len(sources) > 1
    clips: list[Clip] = []
    for index, source in enumerate(sources):
        name = f"audio[{index}]" if several else "audio"
        source = cast("ClipSource", source)
        if _fits_one_item(source, sample_rate):
            clips.append(load_clip(source, sample_rate=sample_rate, name=name))
        else:
            label = None if isinstance(source, str | os.PathLike) else name
            left = max_items - len(clips)
            clips.extend(
                split_recording(source, sample_rate=sample_rate, name=label, max_items=left)
            )
    if len(clips) > max_items:
        raise AudioTooLongError(
            f"audio: {len(clips)} audio items in one turn; a request carries at most {max_items}"
        )
    return clips


async def load_turn_clips_async(
    audio: AudioInput, *, sample_rate: int | None = None, max_items: int = MAX_AUDIO_ITEMS
) -> list[Clip]:
    """`load_turn_clips` off the event loop (arrays of one item each as before: short 16 kHz
    ones inline); files are looked at in a worker thread, their headers too."""
    if not _has_files(audio) and not _any_long(audio, sample_rate):
        return await load_clips_async(audio, sample_rate=sample_rate)

    def prepare() -> list[Clip]:
        clips = load_turn_clips(audio, sample_rate=sample_rate, max_items=max_items)
        for clip in clips:
            clip.base64()
        return clips

    return await run_blocking(prepare)


def _has_files(audio: AudioInput) -> bool:
    sources: Sequence[object] = audio if isinstance(audio, list | tuple) else [audio]
    return any(isinstance(source, str | os.PathLike | bytes | bytearray) for source in sources)


def _any_long(audio: AudioInput, sample_rate: int | None) -> bool:
    sources: Sequence[object] = audio if isinstance(audio, list | tuple) else [audio]
    return any(not _fits_one_item(cast("ClipSource", source), sample_rate) for source in sources)


def _fits_one_item(source: ClipSource, sample_rate: int | None) -> bool:
    """Whether the server takes `source` as one item (unknown or unreadable: let the usual
    loader say what is wrong)."""
    try:
        if isinstance(source, str | os.PathLike):
            seconds = _header_seconds(source) if os.path.isfile(source) else None
            return seconds is None or (
                seconds <= MAX_AUDIO_SECONDS and os.path.getsize(source) <= MAX_AUDIO_BYTES
            )
        if isinstance(source, bytes | bytearray | memoryview):
            seconds = _header_seconds(bytes(source))
            return seconds is None or (
                seconds <= MAX_AUDIO_SECONDS and len(source) <= MAX_AUDIO_BYTES
            )
        if isinstance(source, Clip):
            return True
        samples = getattr(source, "pcm", source)
        rate = getattr(source, "sample_rate", sample_rate)
        length = getattr(samples, "shape", (0,))[0]
        if rate is None:
            return True  # the loader asks for sample_rate=
        return bool(length / rate <= MAX_AUDIO_SECONDS)
    except (OSError, BadAudioError):
        return True


def _header_seconds(file: str | os.PathLike[str] | bytes) -> float | None:
    import io

    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(file) if isinstance(file, bytes) else os.fspath(file))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None
    if info.samplerate <= 0:
        return None
    return float(info.frames) / float(info.samplerate)
