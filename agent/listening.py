"""The listening loop behind `Agent.listen` and `Agent.replay`.

source ─frames─▶ [echo filter] ─▶ Endpointer ─▶ [gate] ─utterances─▶ queue ─▶ agent.run ─▶ events
                      ▲                └─ barge-in detector ─▶ stop speaking │
                      └──────── what the speaker plays ◀── SpokenTurn ◀── reply text

Two tasks run side by side: a reader that keeps pulling frames from the source through the
endpointer (so hearing never pauses while the agent thinks), and a worker that runs one turn
per utterance, in order. The gate (`agent.turn_start`) decides which utterances are turns:
all of them, those a wake word opened, or those a push-to-talk key delimited. Every utterance
ends up in exactly one of: a turn (`TurnFinished` or `TurnFailed`, which carries the
utterance), or an `UtteranceDropped` event saying why.

With a voice, each turn's replies are spoken as they arrive (`SpokenTurn`), and the turn ends
once its reply has been spoken. The input stream is the conversation's clock: a `WavSink`
made without a clock follows it (sample 0 of the file is sample 0 of the input), and the
clock runs on in silence after the source ends until the last reply is spoken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, Unpack

import numpy as np

from agent.audio import (
    SAMPLE_RATE,
    ArraySource,
    AudioSource,
    Endpointer,
    FrameHook,
    TurnDetectorName,
    Utterance,
    WakeWord,
    WavSource,
    decode_audio,
)
from agent.audio.echo import EchoFilter
from agent.events import (
    AgentEvent,
    EventHandler,
    ReplyText,
    SpeculationDropped,
    SpeculationStarted,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    UtteranceDropped,
    UtteranceEnded,
)
from agent.reply_text import emit
from agent.speculation import Speculation
from agent.speech.barge_in import BARGE_IN_SPEECH_S, BargeInDetector
from agent.speech.playback import TimelineSpeaker
from agent.speech.speaker import Speaker, WavSink
from agent.speech.spoken_turn import SpokenTurn, start_loading
from agent.speech.text import SPOKEN_STYLE
from agent.speech.voice import NoVoice, Voice
from agent.tool_choice import ToolChoice
from agent.turn import Turn
from agent.turn_loop import SPOKEN_REPLIES, STREAM_CLOCK
from agent.turn_start import (
    WAKE_WINDOW_S,
    HeardEvent,
    OpenGate,
    PushToTalk,
    PushToTalkGate,
    TurnGate,
    turn_gate,
)
from tools._sync import run_sync
from tools._threads import run_blocking

__all__ = ["ListenOptions", "ReplayOptions", "TurnRunner", "listen", "replay", "replay_async"]

_log = logging.getLogger("agent")


class TurnRunner(Protocol):
    """What the loop needs of an agent: `Agent.run` for one utterance."""

    async def run(
        self,
        audio: Any = None,
        *,
        sample_rate: int | None = None,
        tool_choice: ToolChoice | None = None,
        on_event: EventHandler | None = None,
    ) -> Turn:
        """Run one user turn on `audio`, emitting tool and reply events through `on_event`."""
        ...


_TURN_EVENTS = (TurnStarted, TurnFinished, TurnFailed)


class ListenOptions(TypedDict, total=False):
    """The keyword options of `listen` (and `Agent.listen`); see `listen` for each."""

    tool_choice: ToolChoice | None
    endpointer: Endpointer | None
    turn_detector: TurnDetectorName | None
    max_queued: int | None
    on_frame: FrameHook | None
    voice: Voice | None
    speaker: Speaker | None
    barge_in: bool
    echo: EchoFilter | None
    spoken_style: str
    stream_time: bool
    speculate: bool
    wake_word: str | WakeWord | None
    wake_window_s: float
    push_to_talk: PushToTalk | None


class ReplayOptions(TypedDict, total=False):
    """The keyword options of `replay_async` and `replay` (and `Agent`'s); see
    `replay_async` for each."""

    sample_rate: int | None
    tool_choice: ToolChoice | None
    endpointer: Endpointer | None
    turn_detector: TurnDetectorName | None
    realtime: bool
    on_event: EventHandler | None
    raise_on_error: bool
    voice: Voice | None
    speaker: Speaker | None
    barge_in: bool
    echo: EchoFilter | None
    spoken_style: str
    speculate: bool
    wake_word: str | WakeWord | None
    wake_window_s: float


async def listen(
    agent: TurnRunner,
    source: AudioSource,
    *,
    tool_choice: ToolChoice | None = None,
    endpointer: Endpointer | None = None,
    turn_detector: TurnDetectorName | None = None,
    max_queued: int | None = 8,
    on_frame: FrameHook | None = None,
    voice: Voice | None = None,
    speaker: Speaker | None = None,
    barge_in: bool = True,
    echo: EchoFilter | None = None,
    spoken_style: str = SPOKEN_STYLE,
    stream_time: bool = False,
    speculate: bool = False,
    wake_word: str | WakeWord | None = None,
    wake_window_s: float = WAKE_WINDOW_S,
    push_to_talk: PushToTalk | None = None,
) -> AsyncGenerator[AgentEvent, None]:
    """Hear utterances from `source` and run one agent turn per utterance; yield the events.

    The source is read continuously, also while a turn runs; utterances that end meanwhile wait
    in a queue of at most `max_queued` (None: unbounded), in order. An utterance that finds the
    queue full is reported as `UtteranceDropped`. A failing turn yields `TurnFailed` with its
    utterance, and listening goes on. When the source ends, the queued turns still run; then the
    iteration ends (raising the source's error, if it failed). Closing or cancelling the
    iteration cancels the turn in progress and closes the source.

    Args:
        agent: the agent (anything with `Agent.run`'s signature).
        source: where the audio comes from (`Microphone`, `WavSource`, `ArraySource`, ...).
        tool_choice: for each turn's first model call (default: the agent's own).
        endpointer: how utterances are cut (it is reset first); default `Endpointer()`.
        turn_detector: how a turn ends, "silence" or "smart-turn" (see `EndpointerConfig`),
            for the default endpointer; with `endpointer`, it must be that one's.
        max_queued: utterances that may wait while a turn runs.
        on_frame: called for every frame with its level (dBFS) and speech decision (for level
            meters); replaces the endpointer's own `on_frame`. Like event handlers, a hook
            that raises is logged, never fatal to listening.
        voice: speak the replies with this voice (`EspeakVoice()`, `PiperVoice(...)`,
            `voice_from_spec("espeak")`); None or `NoVoice()`: text only. Replies are spoken
            sentence by sentence as they arrive, on `speaker`; each request then carries
            `spoken_style` (the agent's instructions are not changed), and a turn ends once its
            reply has been spoken (`SpeakingStarted`, `SpeakingFinished`, `SpeakingInterrupted`
            events). The history holds what was heard.
        speaker: where the voice plays: `SoundDeviceSpeaker()`, or `WavSink(path)` (made
            without a clock, it follows the input stream: sample 0 is the start of `source`).
        barge_in: when the user speaks over the assistant for `BARGE_IN_SPEECH_S`, stop
            speaking at once, cancel the model stream if it still runs, start no further tool,
            and record only what was heard (the turn is marked interrupted); the user's speech
            is the next utterance. False: the user waits until the assistant has finished.
        echo: an `EchoFilter` the microphone goes through before the endpointer, with what the
            speaker plays as its reference: `EchoCanceller()` (extra `[aec]`) or `EchoGate()`
            (the fallback without echo cancellation). None: no filtering (a headset, a
            recording, or a source the sound server already cleaned).
        spoken_style: the instruction sent with each request while a voice is on.
        stream_time: for a source read faster than real time (a recording, a test) with a
            voice: the source waits while the agent works and nothing plays, so the model and
            the tools take no time on the input's timeline (what a `WavSink` following it
            writes, and where a barge-in cuts, is the same on every run). With `wake_word`, also
            without a voice: the window's decisions then do not depend on how long turns take.
        speculate: at each pause of the endpointer's `speculation_pause_s` while the agent is idle,
            start the turn's model request with the audio so far (`Agent.speculate`); speech
            that resumes cancels it (`SpeculationDropped`: a wasted request), a turn
            committed with no new speech adopts its reply (`Turn.timings.from_speculation`).
            Tools run, and text is shown or spoken, only once the turn is committed.
        wake_word: sleep until this wake word is heard (a name of `agent.audio.WAKE_WORDS`,
            such as "hey_jarvis", or a `WakeWord`; extra `[wake]`). An utterance runs as a
            turn when the wake word is in it with speech after it ("Hey Jarvis, set a timer"
            in one breath is one turn, the wake word in its audio), or when its speech starts
            while awake; any other becomes `UtteranceDropped` with the reason. The wake word
            alone runs no turn: it wakes the assistant for the command. `Asleep` and `Awake`
            events report the state (asleep at the start).
        wake_window_s: how long the assistant stays awake after the wake word and after each
            turn (seconds of the stream, not of the wall clock); 0: every turn needs the wake
            word in it.
        push_to_talk: a `PushToTalk` whose `start()` and `end()` (from any thread) delimit
            each turn: the audio between them, with a short pre-roll, is one utterance,
            whatever the VAD says; nothing else starts a turn. With a voice, `start()` is the
            barge-in (the user's voice alone does not interrupt).
    """
    if max_queued is not None and max_queued < 1:
        raise ValueError(f"max_queued must be at least 1 (or None), got {max_queued}")
    endpointer = _endpointer(endpointer, turn_detector)
    if on_frame is not None:
        endpointer.on_frame = _logged_on_failure(on_frame)
    endpointer.reset()
    gate = turn_gate(
        endpointer, wake_word=wake_word, wake_window_s=wake_window_s, push_to_talk=push_to_talk
    )
    speaking = _speaking(voice, speaker, echo, spoken_style)
    loop = _ListeningLoop(
        agent, source, endpointer, max_queued, tool_choice, speaking, stream_time, gate
    )
    if speaking is not None and barge_in:
        if isinstance(gate, PushToTalkGate):
            gate.on_start = loop.barge_in_now  # the key interrupts, the voice alone does not
        else:
            loop.listen_for_barge_in()
    if speculate:
        loop.speculate()
    # aclosing: closing this generator must close the inner one now, not at garbage collection
    async with contextlib.aclosing(loop.run()) as events:
        async for event in events:
            yield event


def _endpointer(given: Endpointer | None, turn_detector: TurnDetectorName | None) -> Endpointer:
    """The endpointer to listen with: the one given, or a new one with `turn_detector`."""
    if given is None:
        return Endpointer() if turn_detector is None else Endpointer(turn_detector=turn_detector)
    if turn_detector is not None and given.config.turn_detector != turn_detector:
        raise ValueError(
            f"turn_detector={turn_detector!r} but the endpointer given decides with "
            f"{given.config.turn_detector!r}: pass one of them (or "
            f"Endpointer(turn_detector={turn_detector!r}))"
        )
    return given


@dataclass(frozen=True, slots=True)
class _Speaking:
    voice: Voice
    speaker: Speaker
    style: str
    echo: EchoFilter | None


def _speaking(
    voice: Voice | None, speaker: Speaker | None, echo: EchoFilter | None, style: str
) -> _Speaking | None:
    """The checked voice options (None: text only); the echo filter hears the speaker."""
    if voice is None or isinstance(voice, NoVoice):
        if echo is not None:
            raise ValueError("echo= filters the assistant's voice out: it needs voice=")
        return None
    if speaker is None:
        raise ValueError(
            "voice= needs speaker=: a SoundDeviceSpeaker() for the sound card, or a "
            "WavSink(path) to write what is said"
        )
    if echo is not None:
        if not isinstance(speaker, TimelineSpeaker):
            raise TypeError(
                f"echo= needs the speaker's output as its reference: {speaker!r} is no "
                "TimelineSpeaker; feed echo.far_end with what it plays and filter the source"
            )
        speaker.add_output_tap(echo.far_end)
    return _Speaking(voice, speaker, style, echo)


class _StreamClock:
    """Seconds of input heard so far: the conversation's timeline.

    For a live source, the time now on that timeline is the wall clock since its first frame
    was recorded (the reader may be behind, judging a backlog); for a recording read faster
    than real time, it is how far the recording has been read.
    """

    def __init__(self, live: bool = False) -> None:
        self.samples = 0
        self._live = live
        self._started: float | None = None  # wall time of sample 0, for a live source

    def __call__(self) -> float:
        return self.samples / SAMPLE_RATE

    def advance(self, samples: int) -> None:
        """A block of `samples` was read (now)."""
        if self._started is None:
            self._started = time.perf_counter() - samples / SAMPLE_RATE
        self.samples += samples

    def now(self) -> float:
        """The stream time now."""
        read = self.samples / SAMPLE_RATE
        if not self._live or self._started is None:
            return read
        return max(read, time.perf_counter() - self._started)


class _Done:
    """End-of-events marker."""


class _ListeningLoop:
    def __init__(
        self,
        agent: TurnRunner,
        source: AudioSource,
        endpointer: Endpointer,
        max_queued: int | None,
        tool_choice: ToolChoice | None,
        speaking: _Speaking | None = None,
        paced: bool = False,
        gate: TurnGate | None = None,
    ) -> None:
        self._agent = agent
        self._tool_choice = tool_choice
        self._source = source
        self._endpointer = endpointer
        self._gate: TurnGate = gate if gate is not None else OpenGate(endpointer)
        self._max_queued = max_queued
        self._speaking = speaking
        self._paced = paced and (speaking is not None or self._gate.paced)
        self._events: asyncio.Queue[AgentEvent | _Done] = asyncio.Queue()
        self._pending: deque[tuple[Utterance, Speculation | None, float]] = deque()
        self._wake = asyncio.Event()
        self._heard_all = False
        self._answered_all = False
        self._in_turn = False
        self._spoken: SpokenTurn | None = None
        self._source_error: BaseException | None = None
        self._clock = _StreamClock(live=source.live)
        self._speculation: Speculation | None = None
        self._voice_loading: asyncio.Task[None] | None = None
        self._follows_clock = False
        sink = speaking.speaker if speaking is not None else None
        if isinstance(sink, WavSink) and sink.clock is None:
            sink.follow(self._clock)
            self._follows_clock = True

    def listen_for_barge_in(self) -> None:
        """Stop the assistant when the user speaks over it (fed by the endpointer's frames)."""
        frame_s = self._endpointer.config.frame_ms / 1000
        detector = BargeInDetector(frame_s, self._barge_in, min_speech_s=BARGE_IN_SPEECH_S)
        hooks = [hook for hook in (self._endpointer.on_frame, detector.hook) if hook is not None]

        def on_frame(level_dbfs: float, is_speech: bool) -> None:
            for hook in hooks:
                hook(level_dbfs, is_speech)

        self._endpointer.on_frame = on_frame

    def _stream_now(self) -> float:
        """The stream time now (paced, the input waits while the agent works: no time
        passes on its timeline)."""
        return self._clock() if self._paced else self._clock.now()

    def speculate(self) -> None:
        """Start each turn's request at a pause, before it is committed (see `listen`)."""
        if not callable(getattr(self._agent, "speculate", None)):
            raise TypeError(f"speculate=True needs an agent with speculate(): {self._agent!r}")
        self._endpointer.on_pause = self._paused
        self._endpointer.on_resume = self._resumed

    def _paused(self, utterance: Utterance) -> None:
        if self._busy() or self._speculation is not None:
            return  # a turn in the way: the conversation will have changed by then
        if not self._gate.admits_speech:
            return  # asleep, or push-to-talk: this speech will not be the turn
        style = self._speaking.style if self._speaking is not None else None
        speculate = self._agent.speculate  # type: ignore[attr-defined]
        self._speculation = speculate(utterance, tool_choice=self._tool_choice, style=style)
        self._events.put_nowait(SpeculationStarted(at=utterance.emitted_at, utterance=utterance))

    def _resumed(self, at: float) -> None:
        self._drop_speculation(at, "the user went on speaking")

    def _drop_speculation(self, at: float, reason: str) -> None:
        if self._speculation is not None:
            self._speculation.cancel()
            self._speculation = None
            self._events.put_nowait(SpeculationDropped(at=at, reason=reason))

    def _claim_speculation(self, event: UtteranceEnded | UtteranceDropped) -> Speculation | None:
        """The speculative request made for the utterance that just ended, if any."""
        speculation, self._speculation = self._speculation, None
        if speculation is None:
            return None
        if isinstance(event, UtteranceEnded) and speculation.matches(event.utterance):
            return speculation
        self._speculation = speculation
        self._drop_speculation(event.utterance.emitted_at, "the utterance ended otherwise")
        return None

    def _barge_in(self) -> bool:
        return self._spoken is not None and self._spoken.barge_in()

    def barge_in_now(self) -> None:
        """Stop the assistant if it is speaking (push-to-talk's start)."""
        self._barge_in()

    async def run(self) -> AsyncGenerator[AgentEvent, None]:
        if self._speaking is not None:  # a Piper voice takes seconds to load: not at turn 1
            self._voice_loading = start_loading(self._speaking.voice)
        reader = asyncio.create_task(self._read(), name="voxagent-listen-reader")
        worker = asyncio.create_task(self._work(), name="voxagent-listen-worker")
        try:
            while not isinstance(event := await self._events.get(), _Done):
                yield event
            await worker  # finished; re-raises what escaped it (not a turn's own failure)
            await reader
            if self._source_error is not None:
                raise self._source_error
        finally:
            for task in (reader, worker):
                task.cancel()
            await asyncio.gather(reader, worker, return_exceptions=True)
            if self._speculation is not None:
                self._speculation.cancel()
            await self._source.aclose()

    async def _read(self) -> None:
        """Pull frames through the gate (and its endpointer) until the source ends or fails."""
        try:
            for event in await self._gate.start():
                self._heard(event)
            async for frame in self._source:
                await self._pace()
                self._clock.advance(frame.size)
                await self._hear(frame)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dead microphone, a corrupt file: end, then report
            self._source_error = exc
        for event in self._gate.flush():  # what was being said when the source ended
            self._heard(event)
        self._heard_all = True
        self._wake.set()
        await self._run_on()

    async def _hear(self, frame: Any) -> None:
        echo = self._speaking.echo if self._speaking is not None else None
        if echo is not None:
            frame = echo.process(frame)
            if not frame.size:
                return
        for event in await self._gate.hear(frame, busy=self._busy()):
            self._heard(event)

    async def _pace(self) -> None:
        """Paced (a recording read fast, with a voice or a wake word): the input waits while
        the agent works and nothing plays, so thinking and tools take no time on the input's
        timeline."""
        if not self._paced:
            return
        speaker = self._speaking.speaker if self._speaking is not None else None
        while self._busy() and not (speaker is not None and speaker.playing):
            await asyncio.sleep(0.002)  # not a timing: a poll of the loop's own state

    def _busy(self) -> bool:
        return bool(self._pending) or self._in_turn

    async def _run_on(self) -> None:
        """After the source: the input's clock runs on (silence) until the last reply is
        spoken, for a speaker that follows it."""
        if not self._follows_clock:
            return
        step = round(SAMPLE_RATE * self._endpointer.config.frame_ms / 1000)
        while not self._answered_all:
            if self._paced:
                await self._pace()
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(step / SAMPLE_RATE)
            if self._busy():
                self._clock.samples += step

    def _heard(self, event: HeardEvent) -> None:
        self._events.put_nowait(event)
        if not isinstance(event, UtteranceEnded | UtteranceDropped):
            return  # speech started, or the assistant woke or fell asleep
        speculation = self._claim_speculation(event)
        if not isinstance(event, UtteranceEnded):
            return
        if self._max_queued is not None and len(self._pending) >= self._max_queued:
            reason = (
                f"queue full: {len(self._pending)} utterances already waiting for the agent "
                f"(max_queued={self._max_queued})"
            )
            self._events.put_nowait(UtteranceDropped(utterance=event.utterance, reason=reason))
            return
        # The commit happens once the endpointer's verdict is in (the turn model takes time):
        # on a live source that is later than the frame it judged.
        committed = max(event.utterance.emitted_at, self._stream_now())
        self._pending.append((event.utterance, speculation, committed))
        self._wake.set()

    async def _work(self) -> None:
        """Run one turn per queued utterance, in order, until everything heard is answered."""
        try:
            count = 0
            while True:
                while not self._pending:
                    if self._heard_all:
                        await self._transcripts_done()
                        return
                    self._wake.clear()
                    await self._wake.wait()
                utterance, speculation, committed = self._pending.popleft()
                # the turn's number in the conversation (`Agent.turns`), else in this loop
                index = getattr(self._agent, "turns", count)
                number = index if isinstance(index, int) else count
                await self._turn(number, utterance, speculation, committed)
                count += 1
        finally:
            self._answered_all = True
            self._events.put_nowait(_Done())

    async def _transcripts_done(self) -> None:
        """Everything is answered: let the transcripts still on their way arrive (their
        `TurnTranscribed` events), so none is lost when the iteration ends."""
        wait = getattr(self._agent, "wait_for_transcripts", None)
        if wait is not None:
            await wait()

    async def _turn(
        self, index: int, utterance: Utterance, speculation: Speculation | None, committed: float
    ) -> None:
        self._in_turn = True
        try:
            await self._run_turn(index, utterance, speculation, committed)
        finally:
            self._in_turn = False

    async def _run_turn(
        self, index: int, utterance: Utterance, speculation: Speculation | None, committed: float
    ) -> None:
        self._events.put_nowait(TurnStarted(index=index, utterance=utterance))
        spoken = self._spoken = self._spoken_turn()

        def forward(event: AgentEvent) -> None:
            # The loop itself reports the turn's start and end, with the utterance attached.
            if isinstance(event, _TURN_EVENTS):
                return
            self._events.put_nowait(event)
            if spoken is not None and isinstance(event, ReplyText):
                spoken.feed(event.delta)

        token = SPOKEN_REPLIES.set(spoken)
        clock = STREAM_CLOCK.set(self._stream_now)
        try:
            # A speculative turn's audio is the one its request carried (the utterance up to
            # the pause, without the last few frames of silence): the history holds what the
            # model heard.
            heard = {"audio": utterance.pcm, "sample_rate": utterance.sample_rate}
            turn = await self._agent.run(
                tool_choice=self._tool_choice,
                on_event=forward,
                **(heard if speculation is None else {"speculation": speculation}),
            )
            turn.timings.speech_end = utterance.end
            turn.timings.committed_at = committed
        except Exception as exc:
            await self._end_speech(spoken, partial=False)
            self._events.put_nowait(TurnFailed(error=exc, utterance=utterance))
        except BaseException:
            if spoken is not None:
                await spoken.abort()
            raise
        else:
            await self._end_speech(spoken)
            self._events.put_nowait(TurnFinished(turn=turn))
        finally:
            STREAM_CLOCK.reset(clock)
            SPOKEN_REPLIES.reset(token)
            self._spoken = None

    def _spoken_turn(self) -> SpokenTurn | None:
        if self._speaking is None:
            return None
        return SpokenTurn(
            self._speaking.voice,
            self._speaking.speaker,
            on_event=self._events.put_nowait,
            style=self._speaking.style,
        )

    @staticmethod
    async def _end_speech(spoken: SpokenTurn | None, *, partial: bool = True) -> None:
        """What the turn left to say (a reply the turn loop did not wait for) is said."""
        if spoken is not None:
            await spoken.close(partial=partial)


async def replay_async(
    agent: TurnRunner,
    audio: str | os.PathLike[str] | bytes | np.ndarray[Any, Any],
    *,
    sample_rate: int | None = None,
    tool_choice: ToolChoice | None = None,
    endpointer: Endpointer | None = None,
    turn_detector: TurnDetectorName | None = None,
    realtime: bool = False,
    on_event: EventHandler | None = None,
    raise_on_error: bool = True,
    voice: Voice | None = None,
    speaker: Speaker | None = None,
    barge_in: bool = True,
    echo: EchoFilter | None = None,
    spoken_style: str = SPOKEN_STYLE,
    speculate: bool = False,
    wake_word: str | WakeWord | None = None,
    wake_window_s: float = WAKE_WINDOW_S,
) -> list[Turn]:
    """Every utterance of a recording through the agent, one turn each; the turns in order.

    Nothing is dropped: the queue is unbounded, since a file is read faster than turns run.
    `voice`, `speaker`, `barge_in`, `echo`, `spoken_style`, `speculate`, `wake_word` and
    `wake_window_s` are `listen`'s. With a voice or a wake word and not `realtime`, the
    recording is read in stream time: it waits while the agent works and nothing is
    playing (the model and the tools take no time on its timeline), so what a `WavSink`
    writes, where a barge-in cuts, and when the wake word's window closes are the same
    on every run.

    Args:
        agent: the agent.
        audio: a file path, the bytes of a file, or samples (with their `sample_rate`).
        tool_choice: for each turn's first model call (default: the agent's own).
        endpointer: how utterances are cut; default `Endpointer()`.
        turn_detector: `listen`'s: "silence" or "smart-turn", for the default endpointer.
        realtime: read the file at the pace of a microphone instead of as fast as possible.
        on_event: called with every event, as `listen` yields it.
        raise_on_error: re-raise the first failed turn's error (with a note saying which
            utterance); False: skip failed turns (they still reach `on_event`).
    """
    # Decoding bytes and resampling a long array take a while: not on the event loop.
    source = await run_blocking(lambda: _recording_source(audio, sample_rate, realtime))
    turns: list[Turn] = []
    events = listen(
        agent, source, tool_choice=tool_choice, endpointer=endpointer,
        turn_detector=turn_detector, max_queued=None,
        voice=voice, speaker=speaker, barge_in=barge_in, echo=echo, spoken_style=spoken_style,
        stream_time=not realtime, speculate=speculate, wake_word=wake_word,
        wake_window_s=wake_window_s,
    )  # fmt: skip
    async with contextlib.aclosing(events):
        async for event in events:
            await emit(on_event, event)
            if isinstance(event, TurnFinished):
                turns.append(event.turn)
            elif isinstance(event, TurnFailed) and raise_on_error:
                where = event.utterance
                if where is not None:
                    event.error.add_note(
                        f"while replaying the utterance at {where.start:.2f}-{where.end:.2f} s"
                    )
                raise event.error
    return turns


def _recording_source(
    audio: str | os.PathLike[str] | bytes | np.ndarray[Any, Any],
    sample_rate: int | None,
    realtime: bool,
) -> AudioSource:
    """The source that plays `audio` (a file, its bytes, or samples) to the endpointer."""
    if isinstance(audio, str | os.PathLike):
        return WavSource(audio, realtime=realtime)
    if isinstance(audio, bytes | bytearray | memoryview):
        return ArraySource(decode_audio(bytes(audio)), SAMPLE_RATE, realtime=realtime)
    return ArraySource(audio, sample_rate, realtime=realtime)  # which requires the rate


def _logged_on_failure(hook: FrameHook) -> FrameHook:
    """`hook`, with what it raises logged (once per kind of error) instead of ending listening."""
    failed: set[type[BaseException]] = set()

    def safe(*args: Any) -> None:
        try:
            hook(*args)
        except Exception as error:
            if type(error) not in failed:
                failed.add(type(error))
                _log.exception("on_frame hook failed (logged once per error type)")

    return safe


def replay(
    agent: TurnRunner,
    audio: str | os.PathLike[str] | bytes | np.ndarray[Any, Any],
    **options: Unpack[ReplayOptions],
) -> list[Turn]:
    """Blocking `replay_async` (same options), for scripts; not inside a running event loop."""
    return run_sync(
        replay_async(agent, audio, **options),
        what="replay()",
        instead="await replay_async(...)` (or `await agent.replay_async(...)",
    )
