"""Issue 4 (hearing) as its reader would check it: the API sample, sources, endpointer, loop.

Every scenario uses the public names only (`agent.audio`, `agent.events`, `Agent`), with
default settings unless the scenario is about a setting, on the generated speech corpus.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent import Agent
from agent.audio import (
    ArraySource,
    Endpointer,
    EndpointerConfig,
    Microphone,
    SileroVad,
    TwoStageVad,
    Utterance,
    WavSource,
    WebRtcVad,
    segment,
)
from agent.errors import BadAudioError, RequestRejectedError
from agent.events import (
    AgentEvent,
    ReplyText,
    SpeechStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    UtteranceDropped,
    UtteranceEnded,
)
from agent.testing import ScriptedServer
from agent.turn import Turn
from tests.audio.corpus import ROOT, Corpus

RATE = 16_000


@pytest.fixture
def session_wav(corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The clean corpus file as ./session.wav, so the issue's sample runs verbatim."""
    path = tmp_path / "session.wav"
    shutil.copy(corpus.path("clean"), path)
    monkeypatch.chdir(tmp_path)
    return path


def first_utterances(corpus: Corpus, count: int, tmp_path: Path) -> tuple[Path, list[dict]]:
    """The first `count` utterances of the clean corpus (with 1 s after the last) as a WAV."""
    truth = corpus.utterances("clean")[:count]
    audio, rate = sf.read(corpus.path("clean"), dtype="int16")
    path = tmp_path / f"first_{count}.wav"
    sf.write(path, audio[: round((truth[-1]["end"] + 1.0) * rate)], rate)
    return path, truth


# -- 1. the API sample, verbatim ---------------------------------------------------------------


def test_the_issue_sample_runs_verbatim(session_wav: Path, corpus: Corpus) -> None:
    utterances = segment("session.wav")
    u = utterances[0]
    truth = corpus.utterances("clean")
    assert len(utterances) == len(truth)
    config = EndpointerConfig()
    for u, true in zip(utterances, truth, strict=True):
        assert isinstance(u, Utterance)
        assert isinstance(u.pcm, np.ndarray) and u.pcm.dtype == np.int16 and u.pcm.ndim == 1
        assert u.sample_rate == 16000
        assert u.start < u.end <= u.emitted_at
        assert u.start == pytest.approx(true["start"], abs=0.12)
        assert u.end == pytest.approx(true["end"], abs=0.2)
        # decided after the end silence, not before the speech ended
        assert true["end"] < u.emitted_at <= true["end"] + config.silence_end_s + 0.3
        # the audio holds the pre-roll before the first speech frame and the whole utterance
        pre_roll = u.duration - (min(u.emitted_at, u.end + config.tail_s) - u.start)
        assert pre_roll == pytest.approx(config.pre_roll_s, abs=0.002)
        assert u.start - pre_roll <= true["start"] and u.end + config.tail_s >= true["end"]
    starts = [u.start for u in utterances]
    assert starts == sorted(starts)
    assert all(a.emitted_at <= b.start for a, b in itertools.pairwise(utterances))


def test_to_wav_is_a_decodable_16_bit_mono_wav(session_wav: Path) -> None:
    u = segment("session.wav")[0]
    data = u.to_wav()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    info = sf.info(io.BytesIO(data))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == 16000
    np.testing.assert_array_equal(samples, u.pcm)


def test_segment_takes_a_path_bytes_or_an_array_alike(session_wav: Path) -> None:
    from_path = segment(session_wav)
    from_bytes = segment(session_wav.read_bytes())
    samples, _ = sf.read(session_wav, dtype="float32")
    from_array = segment(samples, sample_rate=RATE)
    spans = [(u.start, u.end) for u in from_path]
    assert [(u.start, u.end) for u in from_bytes] == spans
    assert [(u.start, u.end) for u in from_array] == spans


# -- 2. sources: any format in, 16 kHz mono int16 frames out -------------------------------------


def sine(seconds: float, rate: int, channels: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t)
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32)


def dominant_frequency(pcm: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(pcm.size)))
    return float(np.argmax(spectrum) * RATE / pcm.size)


async def frames_of(source: WavSource | ArraySource) -> list[np.ndarray]:
    return [frame async for frame in source]


FORMATS = [
    ("wav", "PCM_16"),
    ("wav", "PCM_32"),
    ("wav", "FLOAT"),
    ("wav", "PCM_U8"),
    ("flac", "PCM_16"),
    ("ogg", "VORBIS"),
    ("mp3", "MPEG_LAYER_III"),
]


FILE_CASES = [
    pytest.param(suffix, subtype, rate, channels, id=f"{channels}-{rate}-{suffix}-{subtype}")
    for channels, rate, (suffix, subtype) in itertools.product(
        [1, 2, 6], [8000, 22050, 44100, 48000], FORMATS
    )
    if not (suffix == "mp3" and channels > 2)  # MP3 holds at most two channels
]


@pytest.mark.parametrize(("suffix", "subtype", "rate", "channels"), FILE_CASES)
async def test_wav_source_converts_every_format_rate_and_channel_count(
    tmp_path: Path, suffix: str, subtype: str, rate: int, channels: int
) -> None:
    path = tmp_path / f"tone.{suffix}"
    sf.write(path, sine(1.0, rate, channels), rate, subtype=subtype)
    frames = await frames_of(WavSource(path))
    assert all(f.dtype == np.int16 and f.ndim == 1 for f in frames)
    assert all(f.size == 480 for f in frames[:-1])
    pcm = np.concatenate(frames)
    assert pcm.size == pytest.approx(RATE, abs=0.06 * RATE)  # mp3 pads a little
    assert dominant_frequency(pcm[1600:-1600]) == pytest.approx(440.0, abs=5.0)
    rms = float(np.sqrt(np.mean((pcm[1600:-1600] / 32768.0) ** 2)))
    lossy = suffix in ("ogg", "mp3")  # Vorbis treats a 6th channel as band-limited LFE
    assert rms == pytest.approx(0.3 / np.sqrt(2), rel=0.3 if lossy else 0.02)


@pytest.mark.parametrize(
    ("dtype", "scale", "offset"),
    [(np.int16, 32767, 0), (np.int32, 2**31 - 1, 0), (np.float32, 1.0, 0), (np.uint8, 127, 128)],
)
async def test_array_source_converts_dtypes(dtype: type, scale: float, offset: float) -> None:
    wave = sine(0.5, 48000, 2)
    samples = (wave * scale + offset).astype(dtype)
    pcm = np.concatenate(await frames_of(ArraySource(samples, 48000)))
    assert pcm.dtype == np.int16 and pcm.size == pytest.approx(RATE / 2, abs=2)
    assert dominant_frequency(pcm) == pytest.approx(440.0, abs=5.0)
    rms = float(np.sqrt(np.mean((pcm[800:-800] / 32768.0) ** 2)))
    assert rms == pytest.approx(0.3 / np.sqrt(2), rel=0.05)


def test_bad_files_give_clear_errors(tmp_path: Path) -> None:
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not audio at all")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    for path, words in [
        (not_audio, "not readable audio"),
        (empty, "empty"),
        (tmp_path / "missing.wav", "no such file"),
        (tmp_path, "directory"),
    ]:
        with pytest.raises(BadAudioError, match=words) as caught:
            WavSource(path)
        assert str(path) in str(caught.value)
        with pytest.raises(BadAudioError, match=words):
            segment(path)


def test_a_truncated_file_is_read_as_far_as_it_goes(tmp_path: Path, corpus: Corpus) -> None:
    whole = corpus.path("clean").read_bytes()
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(whole[: len(whole) // 2])
    found = segment(truncated)  # the header promises more than there is: no crash
    truth = corpus.utterances("clean")
    assert 0 < len(found) < len(truth)
    assert found[0].start == pytest.approx(truth[0]["start"], abs=0.12)


async def test_realtime_wav_source_paces_like_a_microphone(tmp_path: Path) -> None:
    path = tmp_path / "second.wav"
    sf.write(path, sine(1.2, 44100, 2), 44100)
    started = time.monotonic()
    fast = await frames_of(WavSource(path))
    fast_seconds = time.monotonic() - started
    started = time.monotonic()
    arrivals: list[float] = []
    async for _ in WavSource(path, realtime=True):
        arrivals.append(time.monotonic() - started)
    assert len(arrivals) == len(fast)
    assert fast_seconds < 0.6
    assert arrivals[-1] == pytest.approx(1.2, abs=0.25)
    assert arrivals[len(arrivals) // 2] == pytest.approx(0.6, abs=0.2)  # steady, not a burst


MISSING_DEVICE = """
import asyncio
from agent.audio import Microphone

async def main():
    async for _ in Microphone(device="a microphone that is not there"):
        pass

asyncio.run(main())
"""


def test_a_missing_microphone_is_a_clear_error_not_a_hang() -> None:
    # A subprocess: PortAudio fixes its device list when first imported in a process.
    done = subprocess.run(
        [sys.executable, "-c", MISSING_DEVICE], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith("agent.errors.AudioDeviceError"), done.stderr
    assert "a microphone that is not there" in last_line
    assert "voxagent devices" in last_line


def test_microphone_is_an_audio_source_that_opens_nothing_until_iterated() -> None:
    mic = Microphone(device=None)
    assert mic.sample_rate == 16000 and mic.overflows == 0 and not mic.closed
    assert mic.device_name is None  # nothing opened yet


# -- 3. the endpointer: every setting has an effect ---------------------------------------------


class LoudIsSpeech:
    """A deterministic detector: speech is anything louder than -40 dBFS."""

    def is_speech(self, frame: np.ndarray) -> bool:
        return bool(np.sqrt(np.mean((frame / 32768.0) ** 2)) > 0.01)

    def reset(self) -> None:
        pass


def tone(seconds: float, dbfs: float = -20.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (10 ** (dbfs / 20) * np.sqrt(2) * 32767 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def heard(audio: np.ndarray, **settings: float) -> list[AgentEvent]:
    endpointer = Endpointer(detector=LoudIsSpeech(), **settings)  # type: ignore[arg-type]
    return [*endpointer.feed(audio), *endpointer.flush()]


def ended(events: list[AgentEvent]) -> list[Utterance]:
    return [e.utterance for e in events if isinstance(e, UtteranceEnded)]


def test_the_defaults_are_named_and_documented() -> None:
    config = EndpointerConfig()
    doc = EndpointerConfig.__doc__ or ""
    for name in (
        "frame_ms", "aggressiveness", "speech_start_s", "silence_end_s", "pre_roll_s",
        "min_utterance_s", "max_utterance_s", "min_level_dbfs",
    ):  # fmt: skip
        assert hasattr(config, name) and name in doc
    assert config.max_utterance_s == 30.0
    assert config.vad == "webrtc"


def test_silence_end_sets_when_the_utterance_is_decided() -> None:
    audio = np.concatenate([silence(0.5), tone(1.0), silence(0.5), tone(1.0), silence(2.0)])
    (u,) = ended(heard(audio, silence_end_s=0.6))  # the 0.5 s pause stays inside
    assert u.emitted_at - u.end == pytest.approx(0.6, abs=0.031)
    assert len(ended(heard(audio, silence_end_s=0.3))) == 2  # now it splits


def test_speech_start_rejects_blips_shorter_than_it() -> None:
    audio = np.concatenate([silence(0.48), tone(0.09), silence(1.5)])  # three whole frames
    assert heard(audio, speech_start_s=0.15, min_utterance_s=0.03) == []
    events = heard(audio, speech_start_s=0.09, min_utterance_s=0.03)
    assert [type(e) for e in events] == [SpeechStarted, UtteranceEnded]


def test_pre_roll_and_tail_bound_the_audio() -> None:
    audio = np.concatenate([silence(1.0), tone(1.0), silence(2.0)])
    for pre_roll, tail in [(0.0, 0.0), (0.3, 0.25), (0.6, 0.5)]:
        (u,) = ended(heard(audio, pre_roll_s=pre_roll, tail_s=tail))
        assert u.start == pytest.approx(1.0, abs=0.03) and u.end == pytest.approx(2.0, abs=0.03)
        assert u.duration == pytest.approx(pre_roll + 1.0 + tail, abs=0.031)
        assert not u.pcm[: round(pre_roll * RATE)].any()  # the silence before the speech
        assert u.pcm[round(pre_roll * RATE) : round((pre_roll + 0.05) * RATE)].any()


def test_min_utterance_drops_clicks_with_an_event() -> None:
    audio = np.concatenate([silence(0.48), tone(0.15), silence(1.5)])  # five whole frames
    events = heard(audio)
    dropped = [e for e in events if isinstance(e, UtteranceDropped)]
    assert len(dropped) == 1 and "too short" in dropped[0].reason and not ended(events)
    assert len(ended(heard(audio, min_utterance_s=0.1))) == 1


def test_max_utterance_cuts_long_speech() -> None:
    audio = np.concatenate([silence(0.5), tone(7.0), silence(1.5)])
    found = ended(heard(audio, max_utterance_s=3.0))
    assert len(found) == 3 and [u.truncated for u in found] == [True, True, False]
    assert all(u.duration <= 3.0 + 1e-9 for u in found)
    assert sum(u.end - u.start for u in found) == pytest.approx(7.0, abs=0.1)
    (whole,) = ended(heard(audio))
    assert not whole.truncated and whole.duration < 30.0


def test_min_level_ignores_quiet_sound_whatever_the_detector_says() -> None:
    class EverythingIsSpeech(LoudIsSpeech):
        def is_speech(self, frame: np.ndarray) -> bool:
            return True

    audio = np.concatenate([silence(0.5), tone(1.0, dbfs=-50.0), silence(1.5)])
    quiet = Endpointer(detector=EverythingIsSpeech(), min_level_dbfs=-40.0)
    assert not ended([*quiet.feed(audio), *quiet.flush()])
    loud = Endpointer(detector=EverythingIsSpeech(), min_level_dbfs=-60.0)
    assert len(ended([*loud.feed(audio), *loud.flush()])) == 1


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_frame_ms_sets_the_judging_grain(frame_ms: int) -> None:
    calls: list[bool] = []
    endpointer = Endpointer(frame_ms=frame_ms, on_frame=lambda level, speech: calls.append(speech))
    endpointer.feed(silence(0.6))
    assert len(calls) == round(600 / frame_ms)


def test_aggressiveness_and_vad_mode_build_the_detector() -> None:
    webrtc = Endpointer(aggressiveness=3).detector
    assert isinstance(webrtc, WebRtcVad) and webrtc.aggressiveness == 3
    assert isinstance(Endpointer(vad="silero").detector, SileroVad)
    assert isinstance(Endpointer(vad="both").detector, TwoStageVad)
    with pytest.raises(ValueError, match="aggressiveness"):
        Endpointer(aggressiveness=4)
    with pytest.raises(TypeError, match="unknown endpointer setting"):
        Endpointer(silence_end=1.0)


@pytest.mark.parametrize("vad", ["webrtc", "silero", "both"])
def test_every_mode_finds_every_utterance_of_a_quiet_talker(corpus: Corpus, vad: str) -> None:
    found = segment(corpus.path("quiet"), vad=vad)
    truth = corpus.utterances("quiet")
    assert len(found) == len(truth), [(u.start, u.end) for u in found]
    for u, true in zip(found, truth, strict=True):
        assert u.start - EndpointerConfig().pre_roll_s <= true["start"]
        assert u.end + EndpointerConfig().tail_s >= true["end"]


def test_silero_as_a_second_stage_behind_webrtc(corpus: Corpus) -> None:
    detector = TwoStageVad(WebRtcVad(noise_margin_db=None), SileroVad())
    found = segment(corpus.path("pink_10db"), endpointer=Endpointer(detector=detector))
    assert len(found) == len(corpus.utterances("pink_10db"))


def test_silero_alone_survives_noise_that_defeats_webrtc(corpus: Corpus) -> None:
    truth = corpus.utterances("brown_5db")
    assert len(segment(corpus.path("brown_5db"), vad="silero")) == len(truth)


# -- 4. Agent.listen and Agent.replay with the real Agent -----------------------------------------

notes: list[str] = []


def add_note(text: str) -> str:
    """Write a note down.

    Args:
        text: the note.
    """
    notes.append(text)
    return "saved"


def kinds(events: list[AgentEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


async def test_listen_emits_typed_events_in_order(corpus: Corpus, tmp_path: Path) -> None:
    path, truth = first_utterances(corpus, 2, tmp_path)
    notes.clear()
    with ScriptedServer() as server:
        server.reply_tool_call("add_note", {"text": "milk"}).reply("Noted.")
        server.reply("Second.")
        agent = Agent([add_note], base_url=server.base_url, transcribe_turns=False)
        async with agent:
            events = [event async for event in agent.listen(WavSource(path))]
        server.verify()
    assert notes == ["milk"]
    first_turn = kinds(events)[: kinds(events).index("TurnFinished") + 1]
    assert [k for k in first_turn if k not in ("SpeechStarted", "UtteranceEnded")] == [
        "TurnStarted", "ToolCallStarted", "ToolCallFinished", "ReplyText", "TurnFinished",
    ]  # fmt: skip
    assert first_turn[:2] == ["SpeechStarted", "UtteranceEnded"]
    utterances = [e.utterance for e in events if isinstance(e, UtteranceEnded)]
    assert len(utterances) == len(truth)
    started = [e for e in events if isinstance(e, TurnStarted)]
    assert [s.utterance for s in started] == utterances
    assert [e.delta for e in events if isinstance(e, ReplyText)] == ["Noted.", "Second."]
    finished = [e.turn for e in events if isinstance(e, TurnFinished)]
    assert all(isinstance(t, Turn) for t in finished) and [t.text for t in finished] == [
        "Noted.",
        "Second.",
    ]
    call = next(e for e in events if isinstance(e, ToolCallStarted))
    assert call.name == "add_note" and call.arguments == {"text": "milk"}
    assert next(e for e in events if isinstance(e, ToolCallFinished)).result.ok


async def test_utterances_queue_in_order_while_a_turn_runs(corpus: Corpus, tmp_path: Path) -> None:
    path, _ = first_utterances(corpus, 3, tmp_path)
    with ScriptedServer() as server:
        server.reply("one", delay=1.5).reply("two").reply("three")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        async with agent:
            events = [e async for e in agent.listen(WavSource(path, realtime=False))]
        server.verify()
    names = kinds(events)
    # all three were heard while the first turn was still waiting for the model
    assert names[: names.index("TurnFinished")].count("UtteranceEnded") == 3
    assert [e.turn.text for e in events if isinstance(e, TurnFinished)] == ["one", "two", "three"]
    heard_in_order = [e.utterance for e in events if isinstance(e, UtteranceEnded)]
    assert [e.utterance for e in events if isinstance(e, TurnStarted)] == heard_in_order
    assert not any(isinstance(e, UtteranceDropped) for e in events)


async def test_a_failed_turn_emits_turn_failed_with_its_utterance(
    corpus: Corpus, tmp_path: Path
) -> None:
    path, _ = first_utterances(corpus, 2, tmp_path)
    with ScriptedServer() as server:
        server.fail(400, "refused").reply("after the failure")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        async with agent:
            events = [e async for e in agent.listen(WavSource(path))]
    failed = [e for e in events if isinstance(e, TurnFailed)]
    first = next(e.utterance for e in events if isinstance(e, UtteranceEnded))
    assert len(failed) == 1 and failed[0].utterance is first
    assert isinstance(failed[0].error, RequestRejectedError)
    assert [e.turn.text for e in events if isinstance(e, TurnFinished)] == ["after the failure"]


async def test_cancelling_the_iteration_stops_the_source(corpus: Corpus) -> None:
    source = WavSource(corpus.path("clean"), realtime=True)
    with ScriptedServer() as server:
        server.reply("slow", delay=30.0)
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        seen: list[AgentEvent] = []

        async def consume() -> None:
            async for event in agent.listen(source):
                seen.append(event)

        async with agent:
            task = asyncio.create_task(consume())
            while not any(isinstance(e, TurnStarted) for e in seen):
                await asyncio.sleep(0.05)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 5.0)
    assert source.closed
    assert not any(isinstance(e, TurnFinished) for e in seen)


def test_agent_replay_of_session_wav_returns_the_turns(session_wav: Path, corpus: Corpus) -> None:
    truth = corpus.utterances("clean")
    with ScriptedServer() as server:
        for number in range(len(truth)):
            server.reply(f"answer {number}")
        agent = Agent(base_url=server.base_url, transcribe_turns=False)
        turns = agent.replay("session.wav")
        server.verify()
    assert isinstance(turns, list) and all(isinstance(t, Turn) for t in turns)
    assert [t.text for t in turns] == [f"answer {n}" for n in range(len(truth))]
