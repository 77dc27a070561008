"""A simulated room: the microphone hears the user plus a delayed, attenuated, reverberant copy
of what the assistant's speaker plays. Shared by the echo tests and `bench/speech.py`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import numpy as np

from agent.audio import AudioSource
from agent.audio.convert import PCM16, SAMPLE_RATE
from agent.audio.sources import FRAME_SAMPLES
from agent.speech import TimelineSpeaker

__all__ = ["Room", "RoomMicrophone", "room_impulse_response"]


def room_impulse_response(
    *, delay_s: float = 0.05, gain_db: float = -6.0, rt60_s: float = 0.25, seed: int = 7
) -> np.ndarray:
    """A loudspeaker-to-microphone response: a direct path after `delay_s`, then a diffuse
    exponentially decaying tail (reverberation time `rt60_s`), `gain_db` overall."""
    rng = np.random.default_rng(seed)
    delay = round(delay_s * SAMPLE_RATE)
    tail = round(rt60_s * SAMPLE_RATE)
    decay = np.exp(-6.9 * np.arange(tail) / tail)  # -60 dB at rt60
    response = np.zeros(delay + tail)
    response[delay] = 1.0
    response[delay + 1 :] = 0.3 * rng.standard_normal(tail - 1) * decay[1:]
    return response * 10 ** (gain_db / 20) / np.sqrt(np.sum(response**2))


@dataclass
class Room:
    """What the microphone hears given what the speaker plays and what the user says."""

    response: np.ndarray
    noise_dbfs: float = -60.0

    def microphone(self, played: PCM16, user: PCM16 | None = None, user_at: float = 0.0) -> PCM16:
        """The mic signal (as long as `played`, or longer for the user's speech)."""
        echo = np.convolve(played.astype(np.float64), self.response)[: played.size]
        length = played.size
        start = round(user_at * SAMPLE_RATE)
        if user is not None:
            length = max(length, start + user.size)
        mic = np.zeros(length)
        mic[: echo.size] += echo
        if user is not None:
            mic[start : start + user.size] += user
        rng = np.random.default_rng(3)
        mic += rng.standard_normal(length) * 32768 * 10 ** (self.noise_dbfs / 20)
        return np.clip(mic, -32768, 32767).astype(np.int16)


class RoomMicrophone(AudioSource):
    """A live microphone in the room: `user` (said at its own times) plus the echo of what
    `sink` has played so far, frame by frame (the sink follows the stream's clock, so what it
    played up to a frame is known when the frame is made).

    Attach `tap` to the sink (`sink.add_output_tap(mic.tap)`) before listening.
    """

    def __init__(self, user: PCM16, room: Room, sink: TimelineSpeaker) -> None:
        super().__init__()
        self.user = user
        self.room = room
        self.sink = sink
        self._echo = np.zeros(user.size + room.response.size + SAMPLE_RATE)
        self._played = 0
        rng = np.random.default_rng(3)
        self._noise = rng.standard_normal(user.size) * 32768 * 10 ** (room.noise_dbfs / 20)

    def tap(self, block: PCM16) -> None:
        """What the sink played: its echo is added from where it was played."""
        start, self._played = self._played, self._played + block.size
        if start >= self.user.size or not block.any():
            return
        echo = np.convolve(block.astype(np.float64), self.room.response)
        end = min(self._echo.size, start + echo.size)
        self._echo[start:end] += echo[: end - start]

    async def _frames(self) -> AsyncGenerator[PCM16, None]:
        for start in range(0, self.user.size - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            _ = self.sink.position  # the sink catches up with the clock: its echo is known
            end = start + FRAME_SAMPLES
            mic = self.user[start:end] + self._echo[start:end] + self._noise[start:end]
            yield np.clip(mic, -32768, 32767).astype(np.int16)
            await asyncio.sleep(0)
