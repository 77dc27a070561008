"""Push-to-talk: the user says when a turn starts and ends (a key, a button), not the VAD.

`PushToTalk` is the handle an app holds: `start()` and `end()` may be called from any thread
(a key handler, a GUI callback); they only record the request. The listening loop takes the
requests at its next frame (`PushToTalkGate`), so the utterance is the audio between the
frames where they landed, with the endpointer's pre-roll before it, whatever the VAD says.
The endpointer still hears every frame (the level meter), but its utterances are no turns.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

import numpy as np

from agent.audio import Endpointer
from agent.audio.convert import PCM16, SAMPLE_RATE
from agent.audio.events import SpeechStarted, UtteranceDropped, UtteranceEnded
from agent.audio.utterance import Utterance
from agent.turn_start._gate import HeardEvent

__all__ = ["PushToTalk", "PushToTalkGate"]


class PushToTalk:
    """Explicit start and end of the user's turns, for `listen(..., push_to_talk=...)`.

    The audio between `start()` and `end()` is one utterance (with a short pre-roll before
    it), run as one turn; nothing else starts a turn. `start()` while the assistant speaks
    interrupts it (with `barge_in`). Thread-safe: call from any thread; a call is a request
    that the listening loop applies at its next frame (so within 30 ms). One listening loop
    at a time per object.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[bool] = []  # True: start, False: end; in the order they came
        self._talking = False

    @property
    def talking(self) -> bool:
        """Whether a turn was started and not ended yet (as requested; what a UI shows)."""
        return self._talking

    def start(self) -> None:
        """The user starts talking (the key went down). A second start is ignored."""
        self._request(True)

    def end(self) -> None:
        """The user is done: what was said since `start` is the turn. Ignored when not talking."""
        self._request(False)

    def toggle(self) -> bool:
        """`start` when not talking, else `end` (one key that opens and closes the turn);
        whether a turn is now open."""
        with self._lock:
            self._talking = not self._talking
            self._requests.append(self._talking)
            return self._talking

    def _request(self, talking: bool) -> None:
        with self._lock:
            if self._talking != talking:
                self._talking = talking
                self._requests.append(talking)

    def _take_requests(self) -> list[bool]:
        """The requests since the last call, in order (True: start): the gate's part."""
        with self._lock:
            requests, self._requests = self._requests, []
            return requests

    def __repr__(self) -> str:
        return f"PushToTalk(talking={self._talking})"


class PushToTalkGate:
    """The gate of `listen(push_to_talk=...)`: one utterance per start/end, whatever the VAD.

    Args:
        endpointer: hears every frame (levels, the `on_frame` hook); its `pre_roll_s`,
            `min_utterance_s` (a shorter press is dropped as a slip) and `max_utterance_s`
            (a longer one is cut, and goes on in a new utterance) apply.
        push_to_talk: where the starts and ends come from.
        on_start: called when a start lands (the listening loop's barge-in).
    """

    paced = False

    def __init__(
        self,
        endpointer: Endpointer,
        push_to_talk: PushToTalk,
        on_start: Callable[[], object] | None = None,
    ) -> None:
        config = endpointer.config
        self._endpointer = endpointer
        self._push_to_talk = push_to_talk
        self.on_start = on_start
        self._pre_roll_samples = round(config.pre_roll_s * SAMPLE_RATE)
        self._max_samples = round(config.max_utterance_s * SAMPLE_RATE)
        self._min_s = config.min_utterance_s
        self._reset()

    def _reset(self) -> None:
        self._samples = 0
        self._talking = False
        self._start = 0  # stream sample where the utterance in progress started
        self._buffer: list[PCM16] = []
        self._buffer_start = 0  # stream sample of self._buffer[0]
        self._pre_roll: deque[PCM16] = deque()

    @property
    def admits_speech(self) -> bool:
        """Never: the endpointer's utterances are no turns here (the key says where a turn
        starts and ends)."""
        return False

    async def start(self) -> list[HeardEvent]:
        """A new stream: not talking (a start requested before it still counts)."""
        self._reset()
        return []

    async def hear(self, frame: PCM16, *, busy: bool) -> list[HeardEvent]:
        """Apply the requests that came, then keep the frame (utterance or pre-roll)."""
        events: list[HeardEvent] = []
        for talking in self._push_to_talk._take_requests():
            if talking and not self._talking:
                self._begin(events)
                if self.on_start is not None:
                    self.on_start()
            elif not talking:
                self._finish(events, truncated=False)
        await self._endpointer.feed_async(frame)  # levels and on_frame; its cuts are no turns
        if self._talking and self._samples + frame.size - self._buffer_start > self._max_samples:
            self._finish(events, truncated=True)
            self._begin(events)
        self._keep(frame)
        return events

    def flush(self) -> list[HeardEvent]:
        """The stream ended while talking: what was said is the turn."""
        self._endpointer.flush()
        events: list[HeardEvent] = []
        self._finish(events, truncated=False)
        return events

    def _keep(self, frame: PCM16) -> None:
        self._samples += frame.size
        if self._talking:
            self._buffer.append(frame)
            return
        self._pre_roll.append(frame)
        held = sum(piece.size for piece in self._pre_roll)
        while self._pre_roll and held - self._pre_roll[0].size >= self._pre_roll_samples:
            held -= self._pre_roll.popleft().size

    def _begin(self, events: list[HeardEvent]) -> None:
        if self._talking:
            return
        self._talking = True
        self._start = self._samples
        self._buffer = list(self._pre_roll)
        self._buffer_start = self._samples - sum(piece.size for piece in self._buffer)
        self._pre_roll.clear()
        events.append(SpeechStarted(at=self._start / SAMPLE_RATE))

    def _finish(self, events: list[HeardEvent], *, truncated: bool) -> None:
        if not self._talking:
            return
        self._talking = False
        pcm = np.concatenate(self._buffer) if self._buffer else np.zeros(0, dtype=np.int16)
        self._buffer = []
        end = self._samples / SAMPLE_RATE
        utterance = Utterance(
            pcm=pcm, start=self._start / SAMPLE_RATE, end=end, emitted_at=end, truncated=truncated
        )
        if not truncated and utterance.speech_duration < self._min_s:
            reason = (
                f"push-to-talk held for {utterance.speech_duration:.2f} s, less than "
                f"min_utterance_s={self._min_s} s (a slip of the key?)"
            )
            events.append(UtteranceDropped(utterance=utterance, reason=reason))
        else:
            events.append(UtteranceEnded(utterance=utterance))
