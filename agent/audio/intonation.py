"""Final lowering: how far the pitch of the last voiced stretch falls below the turn's median.

At a pause, a finished statement usually ends low (the last voiced syllable sits several
semitones under the talker's median F0); a mid-sentence pause stays level or rises. The
tracker is built to survive stationary background noise (pink noise at 10 dB SNR): the audio is
band-limited and decimated to 4 kHz, the noise spectrum is estimated per frequency (a low
quantile over the frames: speech moves, noise stays) and subtracted, and only frames clearly
above that floor with a strong, periodic autocorrelation count as voiced. The smart-turn
decision asks it when Smart Turn is fairly but not fully sure (`EndpointerConfig.
turn_fall_threshold`). About 5-10 ms of CPU for 8 s of audio.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from agent.audio.convert import PCM16, SAMPLE_RATE
from agent.errors import BadAudioError

__all__ = ["final_pitch_drop", "pitch_track"]

F64 = npt.NDArray[np.float64]

ANALYSIS_RATE = 4_000
"""The rate the pitch is tracked at: harmonics up to 2 kHz carry F0 well, and it is cheap."""
BAND_HZ = (60.0, 1_800.0)
"""The band kept: below it pink noise and hum dominate, above it speech has little periodicity."""
F0_RANGE_HZ = (60.0, 400.0)
HOP_S = 0.01
WINDOW_S = 0.04
"""40 ms: 2.4 periods of the lowest F0."""
FFT_SIZE = 256
LAG_UPSAMPLING = 2
NOISE_QUANTILE = 0.1
"""The quantile over frames, per frequency, that estimates the noise spectrum."""
OVERSUBTRACT = 1.0
VOICED_SNR = 2.0
"""In-band power over the noise estimate a voiced frame needs (3 dB)."""
VOICING = 0.6
"""The normalised autocorrelation peak a voiced frame needs."""
OCTAVE_TOLERANCE = 0.85
"""The shortest lag whose peak reaches this share of the best wins (guards against F0/2)."""
GAP_FRAMES = 3
"""Unvoiced frames within one voiced stretch (a consonant, a glottal stop)."""
TAIL_FRAMES = 8
"""The last voiced frames of the last stretch whose median is its pitch."""
MIN_VOICED = 15
MIN_RUN = 8
"""Shorter voiced runs are taken for blips (a breath, a click), not speech."""
MIN_TAIL = 4


def final_pitch_drop(pcm: PCM16, *, sample_rate: int = SAMPLE_RATE) -> float | None:
    """Semitones from the turn's median F0 to the F0 of its last voiced stretch.

    `pcm` is the turn so far (up to ~8 s), ending with the pause. Negative means the pitch fell
    (a statement's final lowering). None when there is too little voiced speech to tell.
    """
    f0 = pitch_track(pcm, sample_rate=sample_rate)
    voiced = np.flatnonzero(f0 > 0)
    if voiced.size < MIN_VOICED:
        return None
    semitones = 12.0 * np.log2(f0[voiced] / np.median(f0[voiced]))
    breaks = np.flatnonzero(np.diff(voiced) > GAP_FRAMES + 1)
    last_stretch = semitones[breaks[-1] + 1 :] if breaks.size else semitones
    if last_stretch.size < MIN_TAIL:
        return None
    return float(np.median(last_stretch[-TAIL_FRAMES:]))


def pitch_track(pcm: PCM16, *, sample_rate: int = SAMPLE_RATE) -> F64:
    """F0 in Hz every 10 ms (0 where unvoiced), robust to stationary background noise."""
    x = _decimated(pcm.astype(np.float32), sample_rate)
    window = np.hanning(round(WINDOW_S * ANALYSIS_RATE)).astype(np.float64)
    hop = round(HOP_S * ANALYSIS_RATE)
    if x.size < window.size:
        return np.zeros(0)
    # float64: numpy's float32 FFTs are the slower ones
    frames = np.lib.stride_tricks.sliding_window_view(x, window.size)[::hop] * window
    spectrum = np.fft.rfft(frames, FFT_SIZE)
    power: F64 = spectrum.real**2 + spectrum.imag**2
    power[:, : int(np.ceil(BAND_HZ[0] * FFT_SIZE / ANALYSIS_RATE))] = 0.0
    noise = _noise_spectrum(power, window)
    clean = np.maximum(power - OVERSUBTRACT * noise, 0.0)
    loud = power.sum(axis=1) > VOICED_SNR * noise.sum()
    f0 = np.zeros(power.shape[0])
    f0[loud] = _f0_from_power(clean[loud], window)
    return _median_smoothed(_without_blips(f0))


def _without_blips(f0: F64) -> F64:
    """`f0` with voiced runs shorter than `MIN_RUN` frames unvoiced (breaths, clicks)."""
    edges = np.diff(np.concatenate([[0], (f0 > 0).astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    kept = f0.copy()
    for start, end in zip(starts, ends, strict=True):
        if end - start < MIN_RUN:
            kept[start:end] = 0.0
    return kept


def _decimated(x: npt.NDArray[np.float32], sample_rate: int) -> npt.NDArray[np.float32]:
    """`x` low-passed under `BAND_HZ[1]` and resampled to `ANALYSIS_RATE` (a polyphase FIR)."""
    factor = sample_rate // ANALYSIS_RATE
    if factor * ANALYSIS_RATE != sample_rate:
        raise BadAudioError(
            f"final pitch: sample_rate must be a multiple of {ANALYSIS_RATE} Hz, not "
            f"{sample_rate}: resample first (agent.audio.to_pcm16(samples, {sample_rate}))"
        )
    taps = 8 * factor
    n = np.arange(taps) - (taps - 1) / 2
    fir = np.sinc(2 * BAND_HZ[1] / sample_rate * n) * np.hamming(taps)
    fir = (fir / fir.sum()).astype(np.float32).reshape(-1, factor)
    phases = x[: x.size // factor * factor].reshape(-1, factor)
    out = phases.shape[0] - fir.shape[0] + 1
    if out < 1:
        return np.zeros(0, np.float32)
    y: npt.NDArray[np.float32] = phases[:out] @ fir[0]
    for j in range(1, fir.shape[0]):
        y += phases[j : j + out] @ fir[j]
    return y


def _noise_spectrum(power: F64, window: F64) -> F64:
    """The background per frequency: a low quantile over frames (speech moves, noise stays)."""
    k = int(NOISE_QUANTILE * (power.shape[0] - 1))
    low = np.partition(power, k, axis=0)[k] / -np.log1p(-NOISE_QUANTILE)
    # a floor (-70 dBFS) so digital silence is not a noise floor of zero
    floor = (FFT_SIZE / 2) * float(np.sum(window**2)) * 10.0**2 / power.shape[1]
    spectrum: F64 = np.maximum(low, floor)
    return spectrum


def _median_smoothed(f0: F64) -> F64:
    """A 5-frame running median over the voiced frames (lone octave jumps go)."""
    voiced = np.flatnonzero(f0 > 0)
    if voiced.size < 5:
        return f0
    values = f0[voiced]
    padded = np.concatenate([values[:1].repeat(2), values, values[-1:].repeat(2)])
    smoothed = f0.copy()
    smoothed[voiced] = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)
    return smoothed


def _f0_from_power(power: F64, window: F64) -> F64:
    """F0 per frame from the autocorrelation of its (denoised) power spectrum; 0 if aperiodic.

    The autocorrelation is divided by the window's own (Boersma 1993), so a periodic frame
    peaks near 1 whatever the lag; a peak at a half or a third of the best lag that is nearly
    as high wins (the best one can be a multiple of the period: F0/2).
    """
    lag_rate = LAG_UPSAMPLING * ANALYSIS_RATE  # the band-limited ACF interpolates exactly
    size = LAG_UPSAMPLING * FFT_SIZE
    shortest = int(lag_rate / F0_RANGE_HZ[1])
    longest = int(np.ceil(lag_rate / F0_RANGE_HZ[0]))
    padded = np.zeros((power.shape[0], size // 2 + 1), np.complex64)  # numpy's fastest path
    padded[:, : power.shape[1]] = power
    acf = np.fft.irfft(padded, size)[:, : longest + 2]
    window_power = np.abs(np.fft.rfft(window, FFT_SIZE)) ** 2
    window_acf = np.fft.irfft(window_power, size)[: longest + 2].astype(np.float32)
    scale = np.float32(window_acf[0]) / np.maximum(acf[:, :1], np.float32(1e-12))
    acf = acf * scale / window_acf
    acf[:, :shortest] = 0.0
    rows = np.arange(acf.shape[0])
    best = shortest + np.argmax(acf[:, shortest : longest + 1], axis=1)
    strength = acf[rows, best]
    lag = best
    for divisor in (2, 3, 4, 5):  # the shortest period that fits wins: ascending, overwrite
        centre = np.rint(best / divisor).astype(np.intp)
        near = np.stack([acf[rows, np.maximum(centre + d, 1)] for d in (-1, 0, 1)])
        top = centre + np.argmax(near, axis=0) - 1
        fits = (near.max(axis=0) >= OCTAVE_TOLERANCE * strength) & (top >= shortest)
        lag = np.where(fits, top, lag)
    a, b, c = acf[rows, lag - 1], acf[rows, lag], acf[rows, lag + 1]
    curvature = a - 2.0 * b + c
    safe = np.where(curvature < 0, curvature, -1.0)
    shift = np.clip(np.where(curvature < 0, 0.5 * (a - c) / safe, 0.0), -0.5, 0.5)
    f0: F64 = np.where(strength >= VOICING, lag_rate / (lag + shift), 0.0)
    return f0
