"""Questions about long recordings: one clip over the item limit becomes several items."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent import Agent
from agent.errors import AudioTooLongError, BadAudioError
from agent.limits import MAX_AUDIO_SECONDS
from agent.long_audio import load_turn_clips, split_recording
from agent.testing import ScriptedServer, tone
from tests.long_audio.recordings import write_recording


@pytest.fixture(scope="module")
def forty_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 minutes of talk with short pauses (0.3-1.5 s): little silence to leave out."""
    path = tmp_path_factory.mktemp("meeting") / "meeting.wav"
    write_recording(path, seconds=2400, gaps=(0.3, 1.5), talk=(1, 4), seed=7)
    return path


def _audio_parts(messages: list[dict[str, object]]) -> int:
    return sum(
        1
        for message in messages
        for part in (message.get("content") if isinstance(message.get("content"), list) else [])
        if isinstance(part, dict) and part.get("type") == "input_audio"
    )


async def test_a_40_minute_meeting_goes_as_one_request(forty_minutes: Path) -> None:
    with ScriptedServer(max_model_len=32768) as server:
        server.reply("Topics: budget. Decisions: ship Friday. Action items: Anna.")
        async with Agent(base_url=server.base_url, transcribe_turns=False) as agent:
            turn = await agent.run(forty_minutes, text="Summarize this meeting")
        (request,) = server.requests
        assert request.status == 200 and server.rejected == []
    assert 4 <= request.audio_count <= 5
    assert turn.text.startswith("Topics") and turn.audio_seconds > 35 * 60
    assert request.texts[-1] == "Summarize this meeting"


def test_the_items_are_cut_at_pauses_under_the_item_limit(forty_minutes: Path) -> None:
    clips = split_recording(forty_minutes)
    assert all(clip.duration <= MAX_AUDIO_SECONDS for clip in clips)
    ranges = [clip.source_range for clip in clips]
    assert all(r is not None for r in ranges)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges))  # type: ignore[index]
    assert str(forty_minutes) in clips[0].name and "–" in clips[0].name


async def test_over_what_the_context_holds_says_how_many_minutes_fit(
    forty_minutes: Path,
) -> None:
    with ScriptedServer(max_model_len=16384) as server:
        async with Agent(base_url=server.base_url, transcribe_turns=False) as agent:
            with pytest.raises(AudioTooLongError, match=r"about \d+ min"):
                await agent.run(forty_minutes, text="Summarize this meeting")
        assert server.requests == []


def test_more_than_five_items_is_refused_before_sending(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    write_recording(path, seconds=3700, gaps=(0.3, 0.8), talk=(2, 4), seed=2)
    with pytest.raises(AudioTooLongError, match="at most 5"):
        load_turn_clips(path)


async def test_a_later_turn_keeps_the_policy(forty_minutes: Path) -> None:
    """At most 5 items in the whole request: the newest turn's clips come first, so the long
    turn becomes text (a stand-in) when they do not leave room for all its items."""
    with ScriptedServer() as server:
        server.reply("summary").reply("answer")
        async with Agent(base_url=server.base_url, transcribe_turns=False) as agent:
            await agent.run(forty_minutes, text="Summarize this meeting")
            await agent.run([tone(1.0), tone(0.5)], text="And these?", sample_rate=16000)
        first, second = server.requests
    assert first.audio_count >= 4 and second.audio_count == 2
    assert any("audio" in text and "Summarize this meeting" in text for text in second.texts)


def test_short_clips_load_as_before(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    sf.write(path, (tone(2.0) * 0.5).astype(np.int16), 16000)
    (clip,) = load_turn_clips([path])
    assert clip.source_range is None and clip.duration == pytest.approx(2.0)


def test_a_long_silent_clip_is_bad_audio(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000 * 650, dtype=np.int16), 16000)
    with pytest.raises(BadAudioError, match="no speech"):
        load_turn_clips(path)
