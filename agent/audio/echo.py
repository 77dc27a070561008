"""Acoustic echo cancellation: the microphone cleaned of what the speaker plays.

`EchoCanceller` runs WebRTC's audio processing module (AEC3) from the `livekit` package
(extra `[aec]`, works offline): feed it the speaker's output as the far-end reference and the
microphone as the near end, both 16 kHz mono int16; it works in 10 ms frames. `system_echo_cancel`
says whether the sound server already offers an echo-cancelled source (PulseAudio/PipeWire
`module-echo-cancel`), which `voxagent doctor` reports and `Microphone()` records from.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from agent.audio.convert import PCM16, SAMPLE_RATE
from agent.audio.vad import SILENCE_DBFS, level_dbfs
from agent.errors import VoxagentError

__all__ = [
    "APM_FRAME_SAMPLES",
    "EchoCanceller",
    "EchoFilter",
    "EchoGate",
    "SystemEchoCancel",
    "system_echo_cancel",
]

APM_FRAME_SAMPLES = SAMPLE_RATE // 100
"""The audio processing module's frame: 10 ms at 16 kHz."""

_FAR_ACTIVE_DBFS = -60.0
"""A far-end frame at least this loud counts as the speaker playing."""

_COUPLING_FRAMES = 500
"""Frames (5 s of the speaker playing) the gate learns the speaker-to-mic coupling from."""

_MAX_FAR_FRAMES = 100
"""Far-end frames kept waiting for the microphone (1 s); older ones are dropped."""


class _Frames:
    """Samples in, whole 10 ms frames out (the rest waits for more)."""

    def __init__(self) -> None:
        self._rest = np.zeros(0, dtype=np.int16)

    def whole(self, pcm: PCM16) -> PCM16:
        samples = np.concatenate([self._rest, np.asarray(pcm, dtype=np.int16).ravel()])
        usable = samples.size - samples.size % APM_FRAME_SAMPLES
        self._rest = samples[usable:]
        return samples[:usable].copy()


class _Reference:
    """The far-end reference: resampled to 16 kHz, kept as 10 ms frames; thread-safe."""

    def __init__(self, rate: int) -> None:
        self._resampler: Any = None
        if rate != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="int16")
        self._frames: deque[PCM16] = deque(maxlen=_MAX_FAR_FRAMES)
        self._pending = _Frames()
        self._lock = threading.Lock()

    def add(self, pcm: PCM16) -> None:
        with self._lock:
            if self._resampler is not None:
                pcm = np.asarray(self._resampler.resample_chunk(pcm), dtype=np.int16)
            self._frames.extend(self._pending.whole(pcm).reshape(-1, APM_FRAME_SAMPLES))

    def next(self) -> PCM16 | None:
        with self._lock:
            return self._frames.popleft() if self._frames else None


def _livekit_rtc() -> Any:
    try:
        from livekit import rtc
    except ImportError as error:
        raise VoxagentError(
            "echo cancellation needs the livekit package (WebRTC audio processing): "
            f"pip install 'voxtral-agent[aec]' ({error})"
        ) from error
    return rtc


class EchoCanceller:
    """WebRTC echo cancellation with the speaker's output as reference.

    Args:
        delay_ms: the delay between a sample handed to the speaker (`far_end`) and its echo
            reaching `process` (output latency + input latency); AEC3 also finds it itself.
        noise_suppression: also suppress noise; on by default, because it also takes out
            the residual echo AEC3 leaves while it converges (loud enough for a VAD otherwise).
        high_pass_filter: remove rumble below about 80 Hz.
        residual_gate_db: while the speaker plays, a frame the canceller made this many dB
            quieter than the microphone's is echo (what is left of it is the adaptive filter's
            error, loud enough for a VAD while AEC3 converges): it is silenced. A user talking
            over the assistant keeps most of the frame's energy and passes. None: no gate.

        reference_rate: the rate of what `far_end` gets (e.g. the speaker's), resampled to
            16 kHz.

    `far_end` may be called from any thread (e.g. as a `SoundDeviceSpeaker` tap); `process`
    from one consumer. Either takes any number of samples; whole 10 ms frames are processed
    and the rest waits for the next call.
    """

    def __init__(
        self,
        *,
        delay_ms: int = 0,
        noise_suppression: bool = True,
        high_pass_filter: bool = True,
        residual_gate_db: float | None = 12.0,
        reference_rate: int = SAMPLE_RATE,
    ) -> None:
        self._rtc = _livekit_rtc()
        self._apm = self._rtc.AudioProcessingModule(
            echo_cancellation=True,
            noise_suppression=noise_suppression,
            high_pass_filter=high_pass_filter,
        )
        self.delay_ms = delay_ms
        self.residual_gate_db = residual_gate_db
        self._reference = _Reference(reference_rate)
        self._near = _Frames()

    def far_end(self, pcm: PCM16) -> None:
        """Add reference audio: what the speaker is playing now (mono int16)."""
        self._reference.add(pcm)

    def process(self, near: PCM16) -> PCM16:
        """The microphone audio with the echo removed, for every whole 10 ms frame so far."""
        cleaned = self._near.whole(near)
        for start in range(0, cleaned.size, APM_FRAME_SAMPLES):
            far = self._reference.next()
            if far is not None:
                self._apm.process_reverse_stream(self._frame(far.copy()))
            piece = cleaned[start : start + APM_FRAME_SAMPLES]
            frame = self._frame(piece)
            self._apm.set_stream_delay_ms(self.delay_ms)
            self._apm.process_stream(frame)
            out = np.frombuffer(frame.data, dtype=np.int16)
            if far is not None and self._is_residual_echo(far, piece, out):
                out = np.zeros_like(out)
            cleaned[start : start + APM_FRAME_SAMPLES] = out
        return cleaned

    def _is_residual_echo(self, far: PCM16, near: PCM16, out: PCM16) -> bool:
        if self.residual_gate_db is None or level_dbfs(far) < _FAR_ACTIVE_DBFS:
            return False
        return level_dbfs(out) < level_dbfs(near) - self.residual_gate_db

    def _frame(self, samples: PCM16) -> Any:
        data = bytearray(np.ascontiguousarray(samples, dtype=np.int16).tobytes())
        return self._rtc.AudioFrame(data, SAMPLE_RATE, 1, APM_FRAME_SAMPLES)


@runtime_checkable
class EchoFilter(Protocol):
    """What the loop needs from echo handling: the speaker's output in, the mic cleaned out."""

    def far_end(self, pcm: PCM16) -> None:
        """Add what the speaker plays now (any thread)."""
        ...

    def process(self, near: PCM16) -> PCM16:
        """The microphone's whole 10 ms frames, with the echo handled."""
        ...


class EchoGate:
    """The fallback without echo cancellation: while the speaker plays, the microphone
    passes only where it is clearly louder than the echo can be; elsewhere it is silenced.

    The echo's level is the loudest reference of the last `window_ms` (delay and reverb)
    plus the coupling from speaker to microphone, learned as a high percentile of what the
    microphone heard over the reference while it played (0 dB until learned); the user must
    be `margin_db` above that to barge in. Barge-in works for a raised voice only: say so.
    """

    def __init__(
        self,
        *,
        margin_db: float = 6.0,
        window_ms: int = 400,
        reference_rate: int = SAMPLE_RATE,
    ) -> None:
        self.margin_db = margin_db
        self._reference = _Reference(reference_rate)
        self._near = _Frames()
        self._far_levels: deque[float] = deque(maxlen=max(1, window_ms // 10))
        self._couplings: deque[float] = deque(maxlen=_COUPLING_FRAMES)
        self._background = SILENCE_DBFS
        """The microphone's level while the speaker is silent (the room's own noise)."""

    @property
    def coupling_db(self) -> float:
        """The learned echo level over the reference (0 until enough has been heard)."""
        if len(self._couplings) < _COUPLING_FRAMES // 10:
            return 0.0
        return float(np.percentile(self._couplings, 95))

    def far_end(self, pcm: PCM16) -> None:
        """Add what the speaker plays now (mono int16 at `reference_rate`; any thread)."""
        self._reference.add(pcm)

    def process(self, near: PCM16) -> PCM16:
        """The microphone's whole 10 ms frames, silenced where they may be echo."""
        frames = self._near.whole(near)
        for start in range(0, frames.size, APM_FRAME_SAMPLES):
            far = self._reference.next()
            self._far_levels.append(SILENCE_DBFS if far is None else level_dbfs(far))
            loudest = max(self._far_levels)
            piece = frames[start : start + APM_FRAME_SAMPLES]
            heard = level_dbfs(piece)
            if loudest < _FAR_ACTIVE_DBFS:
                self._background = heard  # the last level heard with the speaker silent
                continue
            threshold = loudest + self.coupling_db + self.margin_db
            self._couplings.append(heard - loudest)
            if heard < threshold:
                self._quieten(piece, heard)
        return frames

    def _quieten(self, piece: PCM16, heard: float) -> None:
        """Bring a frame that may be echo down to the room's background level (not to digital
        silence, which would mislead a VAD that tracks the noise floor)."""
        if heard <= self._background:
            return
        gain = 10 ** ((min(self._background, heard) - heard) / 20)
        piece[:] = np.round(piece * gain).astype(np.int16)


@dataclass(frozen=True, slots=True)
class SystemEchoCancel:
    """Whether the sound server cancels echo, and the source (and sink) it does it with.

    `source` is the echo-cancelled microphone; `sink` is where playback must go for the
    canceller to hear it as its reference. `Microphone()` and `SoundDeviceSpeaker()` use them
    when no device is named.
    """

    available: bool
    source: str | None
    detail: str
    sink: str | None = None


def system_echo_cancel(timeout: float = 5.0) -> SystemEchoCancel:
    """Look for PulseAudio/PipeWire `module-echo-cancel`, its source and its sink (runs
    `pactl`; blocking)."""
    if shutil.which("pactl") is None:
        return SystemEchoCancel(False, None, "pactl not found (no PulseAudio/PipeWire tools)")
    try:
        modules = _pactl("list", "short", "modules", timeout=timeout)
        source = _echo_cancelled(_pactl("list", "short", "sources", timeout=timeout))
        sink = _echo_cancelled(_pactl("list", "short", "sinks", timeout=timeout))
    except (OSError, subprocess.SubprocessError) as error:
        return SystemEchoCancel(False, None, f"the sound server did not answer: {error}")
    if source is not None:
        detail = f"echo-cancelled source {source}" + (f" and sink {sink}" if sink else "")
        return SystemEchoCancel(True, source, detail, sink)
    if "module-echo-cancel" in modules:
        return SystemEchoCancel(True, None, "module-echo-cancel is loaded", sink)
    return SystemEchoCancel(
        False,
        None,
        "no echo-cancelled source (pactl load-module module-echo-cancel to add one)",
    )


def _echo_cancelled(listing: str) -> str | None:
    """The first echo-cancelled device in a `pactl list short sources|sinks` listing (made by
    module-echo-cancel, or named so, as PipeWire does), monitors aside."""
    for line in listing.splitlines():
        fields = line.split("\t")
        if len(fields) < 3 or fields[1].endswith(".monitor"):
            continue
        name, driver = fields[1], fields[2]
        named = "echo" in name.lower() and "cancel" in name.lower()
        if named or driver.startswith("module-echo-cancel"):
            return name
    return None


def _pactl(*arguments: str, timeout: float) -> str:
    done = subprocess.run(
        ["pactl", *arguments], capture_output=True, text=True, timeout=timeout, check=True
    )
    return done.stdout
