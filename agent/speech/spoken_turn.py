"""`SpokenTurn`: the voice of one conversation turn, between the turn loop and a `SpeechQueue`.

The listening loop makes one per turn: the turn's reply text goes in (`feed`), the turn loop
marks where each message starts and waits for the reply to be spoken (`spoken`), and the
barge-in detector cuts it short (`barge_in`): the sound stops at once, and what was heard is
what the turn records. A voice with a `load()` coroutine (`PiperVoice`) starts loading as the
turn starts, while the model is still thinking.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable

from agent.speech.queue import SpeechEvent, SpeechQueue, Spoken
from agent.speech.speaker import Speaker
from agent.speech.text import SPOKEN_STYLE
from agent.speech.voice import Voice

__all__ = ["SpokenTurn", "start_loading"]


class SpokenTurn:
    """Speaks one turn's replies on `speaker` with `voice` (the turn loop's `SpokenReplies`).

    Args:
        voice, speaker: what speaks, and where.
        on_event: gets `SpeakingStarted`, `SpeakingFinished`, `SpeakingInterrupted`.
        style: the instruction sent with each request of the turn (default `SPOKEN_STYLE`).
    """

    def __init__(
        self,
        voice: Voice,
        speaker: Speaker,
        *,
        on_event: Callable[[SpeechEvent], object] | None = None,
        style: str = SPOKEN_STYLE,
    ) -> None:
        self.style = style
        self.barged_in = asyncio.Event()
        self.queue = SpeechQueue(voice, speaker, on_event=on_event)
        self._outcome: Spoken | None = None
        self._loading = start_loading(voice)

    @property
    def speaking(self) -> bool:
        """Whether something of the reply is being synthesized or played."""
        return self.queue.speaking and not self.barged_in.is_set()

    @property
    def producing(self) -> bool:
        """Whether speech is still being made (a sentence not fully synthesized yet)."""
        return self.queue.synthesizing and not self.barged_in.is_set()

    def feed(self, delta: str) -> None:
        """Reply text, as it arrives (ignored once the user barged in)."""
        if not self.barged_in.is_set() and self._outcome is None:
            self.queue.feed(delta)

    def mark(self) -> int:
        """A new message begins; the mark for `heard` and `spoken`."""
        if not self.barged_in.is_set():
            self.queue.flush()
        return self.queue.sentence_count

    def heard(self, mark: int) -> str:
        """What was heard of the messages from `mark` on."""
        return self.queue.heard(since=mark)

    def barge_in(self) -> bool:
        """The user speaks over the assistant: stop now (no waiting). False when nothing was
        being said (then nothing changes)."""
        if not self.speaking:
            return False
        self.queue.halt()
        self.barged_in.set()
        return True

    async def spoken(self, mark: int) -> tuple[str, bool]:
        """Until everything is played or the user barged in; what was heard from `mark` on,
        and whether that is all of it."""
        outcome = await self.close()
        return self.heard(mark), not outcome.interrupted

    async def close(self, *, partial: bool = True) -> Spoken:
        """Finish the reply: until it is played, or cut short by a barge-in; the outcome.
        Not `partial` (the turn failed): an unfinished last sentence is not said."""
        if self._outcome is not None:
            return self._outcome
        self.queue.finish(partial=partial)
        # A barge-in halts the queue: `wait` then returns at once with what was heard.
        self._outcome = await self.queue.wait()
        return self._outcome

    async def abort(self) -> Spoken:
        """Stop speaking now (the turn is being cancelled); the outcome."""
        if self._outcome is None:
            self._outcome = await self.queue.interrupt()
        return self._outcome


def start_loading(voice: Voice) -> asyncio.Task[None] | None:
    """Start `voice.load()` where the voice has one (its failure shows again, and is
    reported, when it first speaks)."""
    load = getattr(voice, "load", None)
    if not inspect.iscoroutinefunction(load):
        return None
    task: asyncio.Task[None] = asyncio.ensure_future(load())
    task.add_done_callback(_forget)
    return task


def _forget(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
