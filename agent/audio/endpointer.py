"""The endpointer: a clock-free state machine that cuts a frame stream into utterances.

It knows time only through the frames it is fed (each frame is `frame_ms` of audio), so it
behaves the same on a live microphone, on a file read as fast as possible and in unit tests.

States: *silence* (keeping a short pre-roll) → *speech* once `speech_start_s` of speech frames
were heard within twice that time (the short gaps of stop consonants do not reset the count;
the start moves back over a short first word) → back to *silence* once `silence_end_s` of
consecutive non-speech frames followed, or a cut at `max_utterance_s`. Utterances whose speech
is shorter than `min_utterance_s` are reported as dropped (clicks, coughs), never passed on
silently.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from agent.audio import vad as detectors
from agent.audio._blocks import Reframer
from agent.audio.convert import PCM16, SAMPLE_RATE
from agent.audio.events import EndpointerEvent, SpeechStarted, UtteranceDropped, UtteranceEnded
from agent.audio.intonation import final_pitch_drop
from agent.audio.pause_habits import PauseHabits
from agent.audio.utterance import Utterance
from agent.audio.vad import SpeechDetector, SteadySound, level_dbfs

__all__ = [
    "Endpointer",
    "EndpointerConfig",
    "EndpointerEvent",
    "FrameHook",
    "PauseHook",
    "ResumeHook",
    "TurnDetectorName",
    "TurnModel",
    "VadMode",
]

VadMode: TypeAlias = Literal["webrtc", "silero", "both"]
"""Which speech detector the endpointer builds when none is given."""

TurnDetectorName: TypeAlias = Literal["silence", "smart-turn"]
"""How the end of a turn is decided: after `silence_end_s` of silence, or by Smart Turn."""


class TurnModel(Protocol):
    """Judges whether the turn whose audio ends a 16 kHz int16 array is complete."""

    def probability(self, pcm: PCM16) -> float:
        """How likely the turn is complete, 0..1 (over 0.5: complete)."""
        ...


FrameHook: TypeAlias = Callable[[float, bool], None]
"""Called for every frame with its level in dBFS and whether it was judged speech."""

PauseHook: TypeAlias = Callable[["Utterance"], None]
"""Called at a pause of `turn_pause_s` inside an utterance, with the utterance so far."""

ResumeHook: TypeAlias = Callable[[float], None]
"""Called when speech resumes after a reported pause, with the stream time (seconds)."""


@dataclass(frozen=True, slots=True)
class EndpointerConfig:
    """Named defaults of the endpointer; every duration is in seconds.

    Attributes:
        frame_ms: length of the frames judged one by one (10, 20 or 30 ms; webrtcvad's sizes).
        vad: the speech detector: "webrtc" (webrtcvad, cheapest), "silero" (Silero VAD on
            onnxruntime, robust in noise) or "both" (speech where both agree).
        aggressiveness: webrtcvad mode, 0 (lenient) to 3 (strict).
        silero_threshold: Silero's speech probability threshold.
        speech_start_s: speech needed, within twice this time, before an utterance starts
            (rejects clicks; tolerates the short gaps of stop consonants).
        silence_end_s: consecutive non-speech that ends an utterance; the main term of the
            endpoint latency. 0.8 s: real talkers pause 0.6-0.7 s inside a sentence ("set a
            timer ... for five minutes"), which 0.7 s split. Durations counted in frames are
            rounded down to whole frames, never waiting longer than asked (0.8 s: 26 frames
            of 30 ms, 0.78 s).
        pre_roll_s: audio kept before the first speech frame (soft onsets the detector misses).
        tail_s: audio kept after the last speech frame (trailing consonants).
        min_utterance_s: utterances with less speech than this (first to last speech frame)
            are dropped as clicks. 0.2 s: a quick one-word answer ("no", "go", "stop")
            measures 0.21-0.3 s, Silero's decision trimming it most.
        max_utterance_s: an utterance's audio (pre-roll included) is cut at this length and
            the speech goes on in a new utterance: Voxtral pads every started 30 s of audio to
            375 tokens, so 30 s is the most one item can carry at the lowest cost.
        min_level_dbfs: frames quieter than this never count as speech, whatever the detector
            says (hum, far-away noise). -60: a quiet talker at -35 dBFS still has soft
            syllables around -55 dBFS.
        noise_margin_db: in "webrtc" mode, how far above the tracked noise floor a frame must
            be to count as speech (see `WebRtcVad`); None turns the gate off. Not used with
            Silero, which copes with noise itself and would lose speech at low SNR to it.
        steady_change: frames whose spectral shape changed less than this (0-1) from each of
            the three frames before are a steady sound (tone, hum, buzz, click train) and
            never speech, in every `vad` mode and from the start of the stream (see
            `SteadySound`; a detector passed to `Endpointer` decides alone); None: no test.
        turn_detector: how a turn ends, the second layer above speech detection. "silence":
            after `silence_end_s` of silence. "smart-turn": at a pause of `turn_pause_s`
            Smart Turn v3.2 judges the turn's audio once: judged complete with a probability
            of at least `turn_commit_threshold` (or of `turn_fall_threshold`, when set, with
            a falling final pitch), the turn ends there; judged complete less surely, after
            `silence_end_s` as with "silence"; judged incomplete, it waits longer, from
            `silence_end_s` (a probability near 0.5) up to `turn_max_wait_s` (near 0), so
            nothing waits forever. Pauses inside a turn stay inside it. The decision adapts to
            the talker (`PauseHabits`): after turns that were cut (speech started again within
            1 s of the commit), the short-pause commit gets stricter and the waits at least as
            long as the talker's recent pauses.
        turn_pause_s: the pause at which the turn model is asked (smart-turn).
        speculation_pause_s: the pause at which `Endpointer.on_pause` reports the turn so
            far (both detectors): speculative requests start there. 0.12 s, before the turn
            model's verdict, so the reply is on its way sooner and the request is sent while
            the model is not running yet; None: `turn_pause_s`.
        turn_max_wait_s: the longest pause a turn judged incomplete waits (smart-turn).
        turn_adapt: let the smart-turn decision adapt to the talker's pauses (`PauseHabits`):
            on a talker whose turns were cut, slower but safer; False: the fixed rule.
        turn_commit_threshold: the probability of completeness that ends a turn at the short
            pause (smart-turn). 0.9: on real read speech with mid-sentence pauses (one
            sentence per turn, `bench/turn_taking.py`), the model gives over 0.9 at 54 % of the
            true ends 0.2 s in, and at 11-12 % of the pauses; 0.5 (pipecat's) would end a
            third of those pauses.
        turn_fall_threshold: a lower probability that also ends a turn at the short pause
            when its pitch fell at the end, as a finished statement's does (smart-turn; see
            `agent.audio.intonation`); None (the default): the model alone decides. 0.8 on
            the benchmark's read speech: complete turns end 30 ms sooner (median, clean) but
            more 0.7 s pauses are cut, and in noise more complete turns end early (an inner
            pause after a word that happens to end low).
        turn_fall_semitones: how far below the turn's median pitch its last voiced sounds
            must be for `turn_fall_threshold` (true ends of statements fall a median 6
            semitones, mid-sentence pauses 0).
    """

    frame_ms: int = 30
    vad: VadMode = "webrtc"
    aggressiveness: int = 2
    silero_threshold: float = 0.5
    speech_start_s: float = 0.15
    silence_end_s: float = 0.8
    pre_roll_s: float = 0.3
    tail_s: float = 0.25
    min_utterance_s: float = 0.2
    max_utterance_s: float = 30.0
    min_level_dbfs: float = -60.0
    noise_margin_db: float | None = 6.0
    steady_change: float | None = 0.1
    turn_detector: TurnDetectorName = "silence"
    turn_pause_s: float = 0.2
    speculation_pause_s: float | None = 0.12
    turn_max_wait_s: float = 2.0
    turn_commit_threshold: float = 0.9
    turn_fall_threshold: float | None = None
    turn_fall_semitones: float = 3.0
    turn_adapt: bool = True

    def __post_init__(self) -> None:
        if self.frame_ms not in (10, 20, 30):
            raise ValueError(f"frame_ms must be 10, 20 or 30, got {self.frame_ms}")
        if self.vad not in ("webrtc", "silero", "both"):
            raise ValueError(f"vad must be 'webrtc', 'silero' or 'both', got {self.vad!r}")
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness must be 0, 1, 2 or 3, got {self.aggressiveness}")
        if self.noise_margin_db is not None and self.noise_margin_db < 0:
            raise ValueError(f"noise_margin_db must be >= 0 or None, got {self.noise_margin_db}")
        self._check_turn_settings()
        if self.steady_change is not None and not 0.0 < self.steady_change < 1.0:
            raise ValueError(f"steady_change must be in (0, 1) or None, got {self.steady_change}")
        for name in ("speech_start_s", "silence_end_s", "pre_roll_s", "tail_s", "min_utterance_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 seconds, got {getattr(self, name)}")
        if self.speech_start_s < self.frame_seconds:
            raise ValueError(f"speech_start_s must be at least one frame ({self.frame_seconds} s)")
        if self.silence_end_s < self.frame_seconds:
            raise ValueError(f"silence_end_s must be at least one frame ({self.frame_seconds} s)")
        if self.max_utterance_s < self.pre_roll_s + self.speech_start_s + self.frame_seconds:
            raise ValueError(
                f"max_utterance_s ({self.max_utterance_s} s) must leave room for the pre-roll "
                "and the speech start"
            )

    def _check_turn_settings(self) -> None:
        if self.turn_detector not in ("silence", "smart-turn"):
            raise ValueError(
                f"turn_detector must be 'silence' or 'smart-turn', got {self.turn_detector!r}"
            )
        if not 0.5 <= self.turn_commit_threshold <= 1.0:
            raise ValueError(
                f"turn_commit_threshold must be in [0.5, 1], got {self.turn_commit_threshold}"
            )
        fall = self.turn_fall_threshold
        if fall is not None and not 0.5 <= fall <= self.turn_commit_threshold:
            raise ValueError(
                f"turn_fall_threshold must be None or in [0.5, turn_commit_threshold "
                f"({self.turn_commit_threshold})], got {fall}"
            )
        if self.turn_fall_semitones <= 0:
            raise ValueError(
                f"turn_fall_semitones must be > 0 (a fall), got {self.turn_fall_semitones}"
            )
        if (
            not self.frame_seconds
            <= self.turn_pause_s
            <= self.silence_end_s
            <= self.turn_max_wait_s
        ):
            raise ValueError(
                "the turn settings must grow: one frame <= turn_pause_s <= silence_end_s <= "
                f"turn_max_wait_s, got {self.turn_pause_s}, {self.silence_end_s}, "
                f"{self.turn_max_wait_s}"
            )
        speculation = self.speculation_pause_s
        if speculation is not None and speculation < self.frame_seconds:
            raise ValueError(
                f"speculation_pause_s must be at least one frame ({self.frame_seconds} s) or "
                f"None, got {speculation}"
            )

    def with_overrides(self, **overrides: float | int | str | None) -> EndpointerConfig:
        """A copy with some fields replaced; unknown names raise `TypeError`."""
        if not overrides:
            return self
        known = {field.name for field in fields(EndpointerConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown endpointer setting(s) {unknown}; known: {sorted(known)}")
        return replace(self, **overrides)  # type: ignore[arg-type]

    @property
    def frame_seconds(self) -> float:
        """`frame_ms` in seconds."""
        return self.frame_ms / 1000.0

    @property
    def frame_samples(self) -> int:
        """Samples per frame at 16 kHz."""
        return SAMPLE_RATE * self.frame_ms // 1000

    def make_detector(self) -> SpeechDetector:
        """Build the speech detector this configuration names."""
        if self.vad == "webrtc":
            return detectors.WebRtcVad(self.aggressiveness, noise_margin_db=self.noise_margin_db)
        if self.vad == "silero":
            return detectors.SileroVad(self.silero_threshold)
        return detectors.TwoStageVad(
            detectors.WebRtcVad(self.aggressiveness, noise_margin_db=None),
            detectors.SileroVad(self.silero_threshold),
        )


class Endpointer:
    """Cut a stream of 16 kHz mono int16 audio into `Utterance`s.

    Feed it audio in blocks of any length (`feed`), then `flush` at the end of the stream;
    both return the events the audio caused, in order. Example::

        endpointer = Endpointer(silence_end_s=0.8)
        for event in endpointer.feed(block):
            ...
        events = endpointer.flush()

    Args:
        config: the settings (default `EndpointerConfig()`); keyword overrides replace fields.
        detector: a speech detector to use instead of the one `config.vad` names.
        turn_model: with ``turn_detector="smart-turn"``, the model to ask instead of a new
            `SmartTurn` (the ONNX session costs 0.3 s to load: share one).
        on_frame: called for every frame with its level (dBFS) and the speech decision,
            for level meters; it must be quick.
        on_pause: called at each pause of `turn_pause_s` inside an utterance, before the
            turn decision, with the utterance so far (`emitted_at`: now); it must be quick.
        on_resume: called when speech resumes after such a pause, with the stream time.
    """

    def __init__(
        self,
        config: EndpointerConfig | None = None,
        *,
        detector: SpeechDetector | None = None,
        turn_model: TurnModel | None = None,
        on_frame: FrameHook | None = None,
        on_pause: PauseHook | None = None,
        on_resume: ResumeHook | None = None,
        **overrides: float | int | str | None,
    ) -> None:
        config = (config if config is not None else EndpointerConfig()).with_overrides(**overrides)
        self.config = config
        self.detector: SpeechDetector = detector if detector is not None else config.make_detector()
        self.on_frame = on_frame
        self.on_pause = on_pause
        self.on_resume = on_resume
        # A detector passed in decides alone what speech is (a test's stand-in may call a tone
        # speech); the steady-sound test belongs to the detectors `config.vad` names.
        self._steady = (
            None
            if config.steady_change is None or detector is not None
            else SteadySound(config.steady_change, min_level_dbfs=config.min_level_dbfs)
        )
        self.turn_model: TurnModel | None = None
        if config.turn_detector == "smart-turn":
            self.turn_model = turn_model if turn_model is not None else _smart_turn()
        self._inline = isinstance(self.detector, detectors.WebRtcVad)  # microseconds: no thread hop
        self._feeding = False
        frame = config.frame_samples
        self._frame = frame
        self._start_frames = _frames(config.speech_start_s, frame)
        self._end_frames = _frames(config.silence_end_s, frame)
        self._pause_frames = _frames(config.turn_pause_s, frame)
        speculation_s = config.speculation_pause_s
        self._report_frames = _frames(
            config.turn_pause_s if speculation_s is None else speculation_s, frame
        )
        self._max_wait_frames = _frames(config.turn_max_wait_s, frame)
        self._pre_roll = round(config.pre_roll_s * SAMPLE_RATE)
        self._tail = round(config.tail_s * SAMPLE_RATE)
        self._max_samples = round(config.max_utterance_s * SAMPLE_RATE)
        self._start_window = 2 * self._start_frames
        pre_roll_frames = math.ceil(self._pre_roll / frame)
        # room for the start window, a look-back as long as the pre-roll, and the pre-roll
        self._history_frames = self._start_window + 2 * pre_roll_frames
        self.reset()

    # -- state --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything: a new stream starts at position 0."""
        self.detector.reset()
        if self._steady is not None:
            self._steady.reset()
        self._reframer = Reframer(self._frame)
        self._position = 0  # samples fed and judged so far
        self._history: deque[PCM16] = deque(maxlen=self._history_frames)
        self._decisions: deque[bool] = deque(maxlen=self._history_frames)  # one per history frame
        # decisions of the newest frames while in silence (at most `_start_window`)
        self._recent: deque[bool] = deque(maxlen=self._start_window)
        self._silence_run = 0  # consecutive non-speech frames (while in speech)
        self._in_speech = False
        self._buffer: list[PCM16] = []
        self._buffer_start = 0  # stream sample index of self._buffer[0]
        self._start = 0  # sample index of the first speech frame of the current utterance
        self._last_speech_end: int | None = None
        self._continues_cut = False  # the utterance goes on from one cut at max_utterance_s
        # the silence that ends the utterance in progress: before a verdict, the longest
        self._wait_frames = self._end_frames if self.turn_model is None else self._max_wait_frames
        self._asking = False  # a pause was reached: the turn model must judge the audio
        self._pause_reported = False  # on_pause was called for the pause in progress
        self.level_dbfs = -120.0
        """Level of the newest frame, dBFS."""
        self.speech = False
        """Whether the newest frame was judged speech."""
        self.turn_probability: float | None = None
        """The turn model's newest verdict (smart-turn), None before the first pause."""
        self.pitch_drop: float | None = None
        """The newest final pitch fall asked for (semitones; `turn_fall_threshold`)."""
        self.habits = PauseHabits(adapt=self.config.turn_adapt)
        """How this talker pauses (smart-turn adapts its decision to it; see `PauseHabits`)."""

    @property
    def in_utterance(self) -> bool:
        """True between `SpeechStarted` and the end of that utterance."""
        return self._in_speech

    @property
    def position(self) -> float:
        """Seconds of audio judged so far."""
        return self._position / SAMPLE_RATE

    # -- feeding ------------------------------------------------------------------------------

    def feed(self, pcm: npt.NDArray[np.int16]) -> list[EndpointerEvent]:
        """Judge audio (16 kHz mono int16, any length); return the events it caused."""
        events: list[EndpointerEvent] = []
        for frame in self._reframer.push(_checked(pcm)):
            self._advance(frame, *self._decide(frame), events)
            if self._asking:
                self._judged(*self._verdict(self._turn_audio()), events)
        return events

    async def feed_async(self, pcm: npt.NDArray[np.int16]) -> list[EndpointerEvent]:
        """`feed` for the event loop: the detector's inference runs off it, in order.

        Model inference (Silero: about 0.3 ms a frame) runs in the audio layer's one VAD
        worker thread, as pipecat runs its analyzers in a single-thread executor; webrtcvad
        (microseconds) runs inline. The state machine and `on_frame` stay on the loop. Await
        each call before the next one (they are one stream, in order); a call cancelled while
        the model runs loses that block's frames.
        """
        frames = list(self._reframer.push(_checked(pcm)))
        if not frames:
            return []
        if self._inline:
            decisions = [self._decide(frame) for frame in frames]
        else:
            if self._feeding:
                raise RuntimeError("Endpointer.feed_async calls overlap: await each one first")
            self._feeding = True
            try:
                decisions = await _vad_thread().run(lambda: [self._decide(f) for f in frames])
            finally:
                self._feeding = False
        events: list[EndpointerEvent] = []
        for frame, (level, speech) in zip(frames, decisions, strict=True):
            self._advance(frame, level, speech, events)
            if self._asking:  # once per pause, in the same worker thread as the detector
                judge = functools.partial(self._verdict, self._turn_audio())
                self._judged(*(await _vad_thread().run(judge)), events)
        return events

    def flush(self) -> list[EndpointerEvent]:
        """End of stream: finish the utterance in progress, if any, and return the events.

        A trailing piece shorter than a frame is kept in that utterance's audio, unjudged.
        """
        events: list[EndpointerEvent] = []
        rest = self._reframer.flush()
        if rest is not None:
            if self._in_speech:
                self._buffer.append(rest)
            self._position += rest.size
        if self._in_speech:
            self._finish(events, now=self._position, truncated=False)
        self._recent.clear()
        self._decisions.clear()
        self._history.clear()
        return events

    def _decide(self, frame: PCM16) -> tuple[float, bool]:
        """(level, speech) of one frame: the detector's part, safe to run off the loop."""
        level = level_dbfs(frame)
        # The detector sees every frame, even quiet ones, so stateful ones (Silero) stay in step.
        speech = self.detector.is_speech(frame) and level >= self.config.min_level_dbfs
        if speech and self._steady is not None:
            speech = not self._steady.is_steady(frame, level)
        return level, speech

    def _advance(
        self, frame: PCM16, level: float, speech: bool, events: list[EndpointerEvent]
    ) -> None:
        """The state machine's step for one judged frame."""
        self.level_dbfs, self.speech = level, speech
        if self.on_frame is not None:
            self.on_frame(level, speech)
        self._position += frame.size  # the frame spans [position - frame.size, position)
        if self._in_speech:
            self._in_utterance(frame, speech, events)
        else:
            self._in_silence(frame, speech, events)

    def _in_silence(self, frame: PCM16, speech: bool, events: list[EndpointerEvent]) -> None:
        self._history.append(frame)
        self._decisions.append(speech)
        self._recent.append(speech)
        if sum(self._recent) < self._start_frames:
            return
        now = self._position
        first = self._first_speech_frame()
        self._start = now - (len(self._history) - first) * self._frame
        self._buffer_start = now - sum(f.size for f in self._history)
        self._buffer = list(self._history)
        self._history.clear()
        self._decisions.clear()
        self._recent.clear()
        self._silence_run = 0
        self._last_speech_end = now
        self._continues_cut = False
        self._in_speech = True
        if self.turn_model is not None:
            self._wait_frames = self._max_wait_frames
        self.habits.speech_started(self._start / SAMPLE_RATE)
        events.append(SpeechStarted(at=self._start / SAMPLE_RATE))

    def _first_speech_frame(self) -> int:
        """Index in the history of the frame the starting utterance begins with.

        That is the first speech frame of the start window, moved back over earlier speech
        frames separated by short gaps (a short first word, "What ... time is it"), so the
        utterance does not begin after its first syllable.
        """
        first = len(self._decisions) - len(self._recent) + self._recent.index(True)
        gap = 0
        for index in range(first - 1, -1, -1):
            if self._decisions[index]:
                first, gap = index, 0
            else:
                gap += 1
                if gap >= self._start_window:
                    break
        return first

    def _in_utterance(self, frame: PCM16, speech: bool, events: list[EndpointerEvent]) -> None:
        frame_start = self._position - frame.size
        pcm_start = max(self._buffer_start, self._start - self._pre_roll)
        if self._position - pcm_start > self._max_samples:
            if self._silence_run:  # already in the closing silence: a normal end, come early
                self._finish(events, now=frame_start, truncated=False)
                self._in_silence(frame, speech, events)
                return
            self._cut(events, at=frame_start)
        self._buffer.append(frame)
        if speech:
            if self._silence_run >= self._pause_frames:
                self.habits.kept(self._silence_run * self._frame / SAMPLE_RATE)
            self._silence_run = 0
            self._last_speech_end = self._position
            if self.turn_model is not None:  # a new pause will be judged anew
                self._wait_frames = self._max_wait_frames
            if self._pause_reported:
                self._pause_reported = False
                if self.on_resume is not None:
                    self.on_resume(frame_start / SAMPLE_RATE)
            return
        self._silence_run += 1
        if self._silence_run == self._report_frames:
            self._report_pause()
        if self.turn_model is not None and self._silence_run == self._pause_frames:
            self._asking = True
            return
        if self._silence_run >= self._wait_frames:
            self._finish(events, now=self._position, truncated=False)

    def _report_pause(self) -> None:
        """A pause of `turn_pause_s`: the turn so far goes to `on_pause` (before any verdict)."""
        if self.on_pause is None or self._last_speech_end is None:
            return
        self._pause_reported = True
        self.on_pause(self._utterance(self._position, truncated=False))

    def _turn_audio(self) -> PCM16:
        """The audio of the turn so far (its last 8 s are what the turn model hears)."""
        return np.concatenate(self._buffer[-_TURN_FRAMES:]) if self._buffer else _NO_AUDIO

    def _verdict(self, audio: PCM16) -> tuple[float, bool]:
        """(the turn model's probability, whether the turn ends now) for the turn's audio at
        a pause: the models' part of the decision, safe to run off the loop."""
        assert self.turn_model is not None
        probability = self.turn_model.probability(audio)
        config, habits = self.config, self.habits
        if probability >= habits.commit_threshold(config.turn_commit_threshold):
            return probability, True
        fall = config.turn_fall_threshold
        if fall is None or probability < habits.commit_threshold(fall):
            return probability, False
        self.pitch_drop = final_pitch_drop(audio[-_PITCH_SAMPLES:])  # the turn model's 8 s
        return probability, (
            self.pitch_drop is not None and self.pitch_drop <= -config.turn_fall_semitones
        )

    def _judged(self, probability: float, ends: bool, events: list[EndpointerEvent]) -> None:
        """Act on the turn model's verdict at a pause: end the turn now, or wait longer."""
        self._asking = False
        self.turn_probability = probability
        if ends:
            self._finish(events, now=self._position, truncated=False)
            return
        # The talker's own pauses set the shortest wait (see `PauseHabits`).
        config = self.config
        shortest = self.habits.min_wait_s(config.silence_end_s, config.turn_max_wait_s)
        end_frames = max(self._end_frames, _frames(shortest, self._frame))
        if probability >= 0.5:  # complete, but not sure enough to commit at a short pause
            self._wait_frames = end_frames
            return
        # Incomplete: the surer the model, the longer the wait (up to turn_max_wait_s).
        span = max(0, self._max_wait_frames - end_frames)
        self._wait_frames = end_frames + round(span * (1.0 - 2.0 * probability))

    def _cut(self, events: list[EndpointerEvent], *, at: int) -> None:
        """Maximum length reached while speech goes on: emit, and go on in a new utterance."""
        self._finish(events, now=at, truncated=True)
        self._in_speech = True
        self._buffer = []
        self._buffer_start = self._start = at
        self._last_speech_end = None
        self._continues_cut = True
        events.append(SpeechStarted(at=at / SAMPLE_RATE))

    def _utterance(self, now: int, *, truncated: bool) -> Utterance:
        """The utterance in progress as it stands at stream sample `now`."""
        assert self._last_speech_end is not None
        audio = np.concatenate(self._buffer) if self._buffer else np.zeros(0, dtype=np.int16)
        first = max(self._buffer_start, self._start - self._pre_roll)
        last = now if truncated else min(now, self._last_speech_end + self._tail)
        return Utterance(
            pcm=audio[first - self._buffer_start : last - self._buffer_start].copy(),
            start=self._start / SAMPLE_RATE,
            end=self._last_speech_end / SAMPLE_RATE,
            emitted_at=now / SAMPLE_RATE,
            truncated=truncated,
        )

    def _finish(self, events: list[EndpointerEvent], *, now: int, truncated: bool) -> None:
        """End the utterance in progress at stream sample `now`; append its event."""
        self._in_speech = False
        self._silence_run = 0
        self._pause_reported = False
        if self._last_speech_end is None:
            self._buffer = []
            return  # the piece after a cut held no speech at all: nothing was said
        utterance = self._utterance(now, truncated=truncated)
        self._buffer = []
        too_short = utterance.speech_duration < self.config.min_utterance_s
        if too_short and not truncated and not self._continues_cut:  # the end of a long one counts
            reason = (
                f"too short: {utterance.speech_duration:.2f} s of speech, less than "
                f"min_utterance_s={self.config.min_utterance_s} s (a click or a cough?)"
            )
            events.append(UtteranceDropped(utterance=utterance, reason=reason))
        else:
            if not truncated:
                self.habits.committed(utterance.end, utterance.emitted_at)
            events.append(UtteranceEnded(utterance=utterance))

    def __repr__(self) -> str:
        return f"Endpointer({self.config!r}, detector={self.detector!r})"


if TYPE_CHECKING:
    from tools._threads import WorkerThreads

_vad_threads: list[WorkerThreads] = []


def _vad_thread() -> WorkerThreads:
    """The one thread model inference runs in (`Endpointer.feed_async`): first come, first judged.

    Made on first use: `tools` is imported only by those who feed asynchronously.
    """
    if not _vad_threads:
        from tools._threads import WorkerThreads

        _vad_threads.append(WorkerThreads(1, "voxagent-vad"))
    return _vad_threads[0]


_PITCH_SAMPLES = 8 * SAMPLE_RATE
_TURN_FRAMES = 8 * 1000 // 10  # at least 8 s of frames, whatever their length (>= 10 ms)
_NO_AUDIO = np.zeros(0, dtype=np.int16)


def _smart_turn() -> TurnModel:
    from agent.audio.smart_turn import SmartTurn

    return SmartTurn()


def _checked(pcm: npt.NDArray[np.int16]) -> PCM16:
    if pcm.dtype != np.int16 or pcm.ndim != 1:
        raise ValueError(
            f"Endpointer.feed wants 16 kHz mono int16 samples of shape (n,), got "
            f"{pcm.dtype} of shape {pcm.shape}; convert with agent.audio.to_pcm16"
        )
    return pcm


def _frames(seconds: float, frame_samples: int) -> int:
    """`seconds` as a whole number of frames, rounded down (at least one)."""
    return max(1, math.floor(seconds * SAMPLE_RATE / frame_samples + 1e-9))
