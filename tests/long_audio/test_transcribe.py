"""Transcribing long recordings against the scripted server: order, offsets, concurrency,
retries, failures, progress and subtitles."""

from __future__ import annotations

import threading
from pathlib import Path

import pysubs2
import pytest

from agent import Agent
from agent.long_audio import (
    PieceFailedError,
    Recording,
    Transcript,
    TranscriptionProgress,
    clock,
    plan_pieces,
)
from agent.testing import RecordedRequest, ScriptedServer, Step
from tests.long_audio.recordings import Burst, bursts_in

PIECE = 30.0


def _labels(request: RecordedRequest) -> list[int]:
    return bursts_in(request.body["file"])


def _text(ks: list[int]) -> str:
    return " ".join(f"b{k}" for k in ks)


def _plan(path: Path) -> list[tuple[float, float]]:
    return [(p.speech_start, p.speech_end) for p in plan_pieces(Recording(path), PIECE)]


async def test_pieces_are_joined_in_order_with_their_offsets(
    marked: tuple[Path, list[Burst]],
) -> None:
    path, bursts = marked

    def answer(request: RecordedRequest) -> Step:
        ks = _labels(request)  # later pieces answer sooner: arrival order is not theirs
        return Step(content=_text(ks), delay=0.3 * (1 - ks[0] / len(bursts)))

    with ScriptedServer(transcriber=answer) as server:
        async with Agent(base_url=server.base_url) as agent:
            transcript = await agent.transcribe(path, max_piece_seconds=PIECE, max_in_flight=4)
    assert isinstance(transcript, Transcript) and isinstance(transcript, str)
    assert transcript == _text([burst.k for burst in bursts])
    segments = transcript.segments
    assert [(s.start, s.end) for s in segments] == _plan(path)
    assert [s.index for s in segments] == list(range(len(segments)))
    assert transcript.duration == pytest.approx(Recording(path).duration)
    by_k = {burst.k: burst for burst in bursts}
    for segment in segments:  # on the recording's timeline: where its speech really is
        ks = [int(word[1:]) for word in segment.text.split()]
        assert segment.start == pytest.approx(by_k[ks[0]].start, abs=0.15)
        assert segment.end == pytest.approx(by_k[ks[-1]].end, abs=0.3)
    assert len(server.transcriptions) == len(segments)


def test_subtitles_parse_back_with_the_segments_times() -> None:
    from agent.long_audio import Segment

    transcript = Transcript(
        [Segment(1.25, 4.5, "Hello there.", 0), Segment(3725.0, 3731.04, "An hour later.", 1)],
        language="en",
        duration=3800.0,
    )
    for fmt in ("srt", "vtt"):
        events = pysubs2.SSAFile.from_string(transcript.to_subtitles(fmt))  # type: ignore[arg-type]
        assert [(e.start, e.end, e.plaintext) for e in events] == [
            (1250, 4500, "Hello there."),
            (3725000, 3731040, "An hour later."),
        ]
    assert transcript.to_dict()["segments"][1] == {
        "index": 1, "start": 3725.0, "end": 3731.04, "text": "An hour later."
    }  # fmt: skip


async def test_concurrency_reaches_and_never_exceeds_its_bound(
    marked: tuple[Path, list[Burst]],
) -> None:
    path, _ = marked
    together = threading.Barrier(3, timeout=30)
    arrived: list[int] = []
    broken: list[bool] = []

    def answer(request: RecordedRequest) -> Step:
        arrived.append(1)
        if len(arrived) <= 3:  # the first three wait for each other: all three in flight
            try:
                together.wait()
            except threading.BrokenBarrierError:
                broken.append(True)
        return Step(content=_text(_labels(request)), delay=0.05)

    with ScriptedServer(transcriber=answer) as server:
        async with Agent(base_url=server.base_url) as agent:
            await agent.transcribe(path, max_piece_seconds=PIECE, max_in_flight=3)
    assert not broken
    assert server.max_transcriptions_in_flight == 3


async def test_a_failing_piece_is_retried_alone(marked: tuple[Path, list[Burst]]) -> None:
    path, bursts = marked
    target = _plan(path)[1]
    failed: list[list[int]] = []

    def answer(request: RecordedRequest) -> Step:
        ks = _labels(request)
        if ks == _second(path) and not failed:
            failed.append(ks)
            return Step(kind="http_error", status=500, message="engine hiccup")
        return Step(content=_text(ks))

    with ScriptedServer(transcriber=answer) as server:
        async with Agent(base_url=server.base_url, max_retries=0) as agent:
            transcript = await agent.transcribe(path, max_piece_seconds=PIECE)
    assert transcript == _text([burst.k for burst in bursts])
    assert failed and len(server.transcriptions) == len(transcript.segments) + 1
    assert (transcript.segments[1].start, transcript.segments[1].end) == target


def _second(path: Path) -> list[int]:
    from agent.audio import encode_wav

    recording = Recording(path)
    second = list(plan_pieces(recording, PIECE))[1]
    return bursts_in(encode_wav(recording.read(second.spans)))


async def test_a_piece_that_keeps_failing_names_its_time_range(
    marked: tuple[Path, list[Burst]],
) -> None:
    path, _ = marked
    start, end = _plan(path)[1]
    bad = _second(path)

    def answer(request: RecordedRequest) -> Step:
        ks = _labels(request)
        if ks == bad:
            return Step(kind="http_error", status=503, message="engine overloaded")
        return Step(content=_text(ks))

    with ScriptedServer(transcriber=answer) as server:
        async with Agent(base_url=server.base_url, max_retries=0) as agent:
            with pytest.raises(PieceFailedError) as caught:
                await agent.transcribe(path, max_piece_seconds=PIECE, max_in_flight=2)
        bad_requests = [r for r in server.transcriptions if _labels(r) == bad]
    message = str(caught.value)
    assert f"{clock(start)}–{clock(end)}" in message and "engine overloaded" in message
    assert caught.value.piece.index == 1 and caught.value.attempts == 2
    assert len(bad_requests) == 2  # the first attempt and a retry of that piece alone


async def test_progress_covers_the_whole_recording(marked: tuple[Path, list[Burst]]) -> None:
    path, _ = marked
    seen: list[TranscriptionProgress] = []
    with ScriptedServer(transcriber=lambda r: _text(_labels(r))) as server:
        async with Agent(base_url=server.base_url) as agent:
            await agent.transcribe(path, max_piece_seconds=PIECE, on_progress=seen.append)
    done = [progress.seconds_done for progress in seen]
    assert done == sorted(done) and done[-1] == pytest.approx(Recording(path).duration)
    assert seen[-1].pieces_done == len(_plan(path)) == seen[-1].requests


def test_transcribe_sync_gives_a_transcript(marked: tuple[Path, list[Burst]]) -> None:
    path, bursts = marked
    with ScriptedServer(transcriber=lambda r: _text(_labels(r))) as server:
        agent = Agent(base_url=server.base_url)
        transcript = agent.transcribe_sync(path, max_piece_seconds=PIECE, language="en")
    assert transcript == _text([burst.k for burst in bursts]) and transcript.language == "en"
    assert all(r.body.get("language") == "en" for r in server.transcriptions)


async def test_a_short_clip_is_one_request_as_before(scripted_server: ScriptedServer) -> None:
    from agent.testing import tone

    scripted_server.transcribe_as("hello")
    async with Agent(base_url=scripted_server.base_url) as agent:
        transcript = await agent.transcribe(tone(2.0), sample_rate=16000)
    assert transcript == "hello"
    assert [(s.start, s.end) for s in transcript.segments] == [(0.0, 2.0)]


async def test_cancelling_stops_the_pieces_in_flight(marked: tuple[Path, list[Burst]]) -> None:
    import asyncio

    path, _ = marked
    with ScriptedServer(transcriber=lambda r: Step(kind="hang")) as server:
        async with Agent(base_url=server.base_url) as agent:
            task = asyncio.create_task(
                agent.transcribe(path, max_piece_seconds=PIECE, max_in_flight=2)
            )
            while len(server.transcriptions) < 2:  # both slots taken, both requests hanging
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=30)
        assert len(server.transcriptions) == 2  # nothing more was sent after the cancel
