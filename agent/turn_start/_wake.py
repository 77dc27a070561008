"""`WakeGate`: the assistant sleeps until it hears its wake word, then holds a window open.

An utterance runs as a turn when the wake word was heard inside it with speech after it (the
command said in the same breath: "Hey Jarvis, set a timer"), or when its speech started while
the assistant was awake. It is awake from the wake word until `window_s` after it, and while
a turn is queued or running; each turn, once it is over, holds the window open `window_s`
longer. Every other utterance is dropped with the reason, and one that is only the wake word
runs no turn (it opened the window: the command may follow). Time is the audio fed, so a
replay in stream time decides the same on every run.
"""

from __future__ import annotations

import functools
import math
from collections import deque

from agent.audio import Endpointer, WakeWord
from agent.audio.convert import PCM16, SAMPLE_RATE
from agent.audio.events import SpeechStarted, UtteranceDropped, UtteranceEnded
from agent.audio.utterance import Utterance
from agent.events import Asleep, Awake
from agent.turn_start._gate import HeardEvent
from tools._threads import WorkerThreads

__all__ = ["WAKE_WINDOW_S", "WakeGate"]

WAKE_WINDOW_S = 8.0
"""Seconds the assistant stays awake after the wake word and after each turn."""

_RUN_GAP_S = 1.0
"""The model hears a word for up to a second after it ended: hits closer than this to the
previous one are the same wake word."""


class WakeGate:
    """The wake word gate of `listen(wake_word=...)`; see the module's docstring.

    Args:
        endpointer: cuts the frames into utterances (its `min_utterance_s` is also the least
            speech a command after the wake word needs).
        detector: the wake word model.
        window_s: the conversation window, seconds (0: every turn needs the wake word).
    """

    paced = True

    def __init__(self, endpointer: Endpointer, detector: WakeWord, window_s: float) -> None:
        if not (window_s >= 0 and math.isfinite(window_s)):
            raise ValueError(f"wake_window_s must be 0 or more seconds, got {window_s}")
        self._endpointer = endpointer
        self._detector = detector
        self._window_s = window_s
        self._min_command_s = endpointer.config.min_utterance_s
        self._reset()

    def _reset(self) -> None:
        self._samples = 0
        self._awake = False
        self._window_end = -math.inf
        self._last_hit = -math.inf
        self._detections: deque[float] = deque(maxlen=8)  # where recent wake words ended
        self._speech_awake: bool | None = None  # the speech in progress began awake (None: none)
        self._speech_start = 0.0

    @property
    def awake(self) -> bool:
        """Whether speech starting now would run as a turn."""
        return self._awake

    @property
    def admits_speech(self) -> bool:
        """Whether the speech in progress runs as a turn (as far as known now): it began
        while awake, or the wake word is in it (a command is expected to follow)."""
        if self._speech_awake is None:
            return False
        return self._speech_awake or bool(self._detections_since(self._speech_start))

    async def start(self) -> list[HeardEvent]:
        """Asleep at 0 s, the model's stream forgotten."""
        self._reset()
        await _wake_thread().run(self._detector.reset)
        return [Asleep(at=0.0)]

    async def hear(self, frame: PCM16, *, busy: bool) -> list[HeardEvent]:
        """The wake model and the endpointer hear the frame; the events, decided."""
        hit = await _wake_thread().run(functools.partial(self._detector.heard, frame))
        heard = await self._endpointer.feed_async(frame)
        self._samples += frame.size
        now = self._samples / SAMPLE_RATE
        events: list[HeardEvent] = []
        if hit:
            self._hit(now, events)
        admitted = False
        for event in heard:
            decided = self._decided(event)
            admitted = admitted or isinstance(decided, UtteranceEnded)
            events.append(decided)
        if busy or admitted:  # a turn to answer: awake until `window_s` after it is over
            self._window_end = max(self._window_end, now + self._window_s)
        elif self._awake and now >= self._window_end and not self.admits_speech:
            self._awake = False
            events.append(Asleep(at=now))
        return events

    def flush(self) -> list[HeardEvent]:
        """The endpointer's last events, decided."""
        return [self._decided(event) for event in self._endpointer.flush()]

    def _hit(self, now: float, events: list[HeardEvent]) -> None:
        new = now - self._last_hit > _RUN_GAP_S
        self._last_hit = now
        if not new:
            return
        self._detections.append(now)
        self._window_end = max(self._window_end, now + self._window_s)
        if not self._awake:
            self._awake = True
            events.append(Awake(at=now, wake_word=self._detector.name))

    def _decided(self, event: HeardEvent) -> HeardEvent:
        """`event`, or the utterance it ends dropped with the reason."""
        if isinstance(event, SpeechStarted):
            self._speech_awake = self._awake
            self._speech_start = event.at
            return event
        if isinstance(event, UtteranceDropped):
            self._speech_awake = None
            return event
        if not isinstance(event, UtteranceEnded):
            return event  # whatever else the endpointer reports passes as it is
        began_awake, self._speech_awake = bool(self._speech_awake), None
        reason = self._refusal(event.utterance, began_awake)
        return event if reason is None else UtteranceDropped(event.utterance, reason)

    def _refusal(self, utterance: Utterance, began_awake: bool) -> str | None:
        """Why `utterance` runs no turn; None: it runs."""
        said = f"the wake word {self._detector.phrase!r}"
        woken = self._detections_since(utterance.start)
        if woken:
            if utterance.end - woken[0] >= self._min_command_s:
                return None  # the command came in the same breath
            return (
                f"only {said}: awake, say the command within {self._window_s:g} s"
                if self._window_s
                else f"only {said}: say the command in the same breath (wake_window_s=0)"
            )
        if began_awake:
            return None
        return f"asleep: {said} was not heard (say it first, or in the same breath)"

    def _detections_since(self, start: float) -> list[float]:
        return [at for at in self._detections if at >= start]

    def __repr__(self) -> str:
        return f"WakeGate({self._detector!r}, window_s={self._window_s:g})"


_wake_threads: list[WorkerThreads] = []


def _wake_thread() -> WorkerThreads:
    """The one thread the wake models run in (each stream's frames in order); made on first use."""
    if not _wake_threads:
        _wake_threads.append(WorkerThreads(1, "voxagent-wake"))
    return _wake_threads[0]
