"""Smart Turn v3.2: a model that judges from the audio whether a speaker's turn is complete.

The ONNX file (8.7 MB, BSD-2, 23 languages) ships inside the `pipecat-ai` wheel; it is found
with `importlib.metadata`, never by importing pipecat. Its input is the 80-bin Whisper log-mel
of the last 8 s at 16 kHz, computed here with numpy (`log_mel_features`), following
`transformers.WhisperFeatureExtractor` as pipecat's `local_smart_turn_v3` calls it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.audio.convert import PCM16, SAMPLE_RATE
from agent.audio.extras import wheel_model

__all__ = ["SmartTurn", "log_mel_features", "smart_turn_model_path"]

WINDOW_S = 8
"""Seconds of audio the model sees: the end of the turn, zero-padded in front when shorter."""

_N_FFT = 400  # 25 ms windows
_HOP = 160  # 10 ms apart
_N_MELS = 80


def smart_turn_model_path() -> Path:
    """Where the `pipecat-ai` wheel keeps Smart Turn v3.2's ONNX file.

    Raises:
        MissingExtraError: the wheel is not installed; the message says how to install it.
    """
    return wheel_model("turn")


def _slaney_mel(hertz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Hz to mel on the Slaney scale: linear below 1 kHz, logarithmic above (librosa's)."""
    linear = 3.0 * hertz / 200.0
    logarithmic = 15.0 + np.log(np.maximum(hertz, 1e-12) / 1000.0) * (27.0 / np.log(6.4))
    return np.where(hertz >= 1000.0, logarithmic, linear)


def _slaney_hertz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    linear = 200.0 * mel / 3.0
    logarithmic = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, logarithmic, linear)


def _mel_filters() -> npt.NDArray[np.float64]:
    """Triangular filters (80, 201) from 0 to 8 kHz, each scaled to unit area ("slaney")."""
    edges = _slaney_hertz(np.linspace(0.0, float(_slaney_mel(np.array(8000.0))), _N_MELS + 2))
    bins = np.linspace(0.0, SAMPLE_RATE / 2, _N_FFT // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    triangles: npt.NDArray[np.float64] = np.maximum(0.0, np.minimum(rising, falling))
    return triangles * (2.0 / (upper - lower))


_FILTERS = _mel_filters()


def _sparse_filters() -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64], npt.NDArray[np.intp]]:
    """`_FILTERS` as the FFT bins each filter covers (filter by filter), their weights and
    where each filter's bins start: the mel bands are then sums over a few bins each."""
    bins: list[int] = []
    weights: list[float] = []
    starts: list[int] = []
    for row in _FILTERS:
        covered = np.flatnonzero(row)
        starts.append(len(bins))
        bins.extend(covered.tolist())
        weights.extend(row[covered].tolist())
    return np.array(bins, np.intp), np.array(weights), np.array(starts, np.intp)


# A dense (80, 201) @ (201, 801) product goes to the BLAS, whose threads then busy-wait beside
# the turn model's own (a core burnt, the model slowed by half on 2 cores); the filters'
# 400 non-zero weights summed with numpy alone cost less than a millisecond.
_BINS, _WEIGHTS, _STARTS = _sparse_filters()
_HANN = np.hanning(_N_FFT + 1)[:-1]  # periodic, as torch.hann_window


def log_mel_features(pcm: PCM16) -> npt.NDArray[np.float32]:
    """The model's input for the end of `pcm`: a (80, 800) Whisper log-mel of the last 8 s.

    Shorter audio is padded with zeros at the start (the end of the turn stays at the end);
    the waveform is normalised to zero mean and unit variance over the 8 s, framed with a
    centred (reflect-padded) STFT, mapped to 80 Slaney mel bands, log10 with a 1e-10 floor,
    clamped to 8 below the maximum and scaled as (x + 4) / 4.
    """
    samples = pcm[-WINDOW_S * SAMPLE_RATE :].astype(np.float32) / 32768.0
    window = np.zeros(WINDOW_S * SAMPLE_RATE, dtype=np.float32)
    window[window.size - samples.size :] = samples
    window = (window - window.mean()) / np.sqrt(window.var() + 1e-7)
    padded = np.pad(window.astype(np.float64), _N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]
    power = np.abs(np.fft.rfft(frames * _HANN, axis=1)) ** 2  # (801, 201)
    mel = np.add.reduceat(power[:, _BINS] * _WEIGHTS, _STARTS, axis=1).T  # (80, 801)
    log_mel = np.log10(np.maximum(mel, 1e-10))[:, :-1]  # the last frame dropped
    log_mel = np.maximum(log_mel, log_mel.max() - 8.0)
    features: npt.NDArray[np.float32] = ((log_mel + 4.0) / 4.0).astype(np.float32)
    return features


class SmartTurn:
    """Smart Turn v3.2 on onnxruntime: the probability that a turn is complete.

    About 60 ms of CPU per call: call it at pauses (not per frame), off the event loop. A
    call is on the path of every fast commit, so it runs on two threads where the machine
    has them (on 2 cores about 50 ms instead of 67, for some 15 % more CPU).

    Args:
        model_path: the ONNX file; default: the one in the installed `pipecat-ai` wheel.
        threads: onnxruntime's threads for one call; default: 2, or 1 on a 1-core machine.
    """

    def __init__(self, *, model_path: str | Path | None = None, threads: int | None = None) -> None:
        from agent.audio.vad import onnx_session

        self.model_path = Path(model_path) if model_path is not None else smart_turn_model_path()
        self.threads = threads if threads is not None else min(2, os.cpu_count() or 1)
        self._session: Any = onnx_session(
            self.model_path,
            "Smart Turn",
            extra="turn",
            fallback="use turn_detector='silence'",
            threads=self.threads,
        )

    def probability(self, pcm: PCM16) -> float:
        """How likely the turn whose audio ends `pcm` is complete (0..1; over 0.5: complete)."""
        features = log_mel_features(pcm)[np.newaxis]
        (output,) = self._session.run(None, {"input_features": features})
        return float(np.asarray(output).reshape(-1)[0])

    def __repr__(self) -> str:
        return f"SmartTurn(model_path={str(self.model_path)!r})"
