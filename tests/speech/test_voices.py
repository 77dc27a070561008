"""Real voices: espeak-ng and Piper make speech the project's VAD hears, of plausible length,
streamed (the first chunk before the last), and stop their engine when abandoned."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from agent.audio import segment
from agent.errors import VoxagentError
from agent.speech import (
    VOICES_ENV,
    EspeakVoice,
    NoVoice,
    PiperVoice,
    Voice,
    default_voice,
    download_piper_voice,
    installed_piper_voices,
    voice_from_spec,
    voices_folder,
)
from agent.speech import espeak as espeak_module
from tests.speech.conftest import piper_voice_path, synthesize_16k

TEXT = "The weather in Paris is sunny today, with a light breeze and twenty degrees."
LONG = " ".join(f"This is sentence number {n} of a long reply, said slowly." for n in range(12))


@pytest.fixture(params=["espeak", "piper"])
def voice(request: pytest.FixtureRequest) -> Voice:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


async def test_a_voice_makes_speech_the_vad_hears(voice: Voice) -> None:
    pcm = await synthesize_16k(voice, TEXT)
    seconds = pcm.size / 16_000
    assert 2.5 < seconds < 9.0, seconds  # 13 words at 90 to 300 words a minute
    utterances = segment(pcm, 16000)
    assert utterances, "the VAD heard no speech"
    assert sum(u.duration for u in utterances) > 0.6 * seconds - 1.0


async def test_chunks_arrive_before_a_long_text_is_synthesized(voice: Voice) -> None:
    events: list[str] = []
    async for chunk in voice.synthesize(LONG):
        events.append("chunk")
        assert chunk.pcm.dtype == np.int16 and chunk.pcm.ndim == 1
    events.append("end")
    assert events.count("chunk") >= 3  # the first came while the rest was still being made
    assert events[0] == "chunk" and events[-1] == "end"


async def test_closing_the_iterator_kills_espeak(
    espeak: EspeakVoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    processes: list[asyncio.subprocess.Process] = []
    spawn = asyncio.create_subprocess_exec

    async def recording(*args: object, **kwargs: object) -> asyncio.subprocess.Process:
        process = await spawn(*args, **kwargs)  # type: ignore[arg-type]
        processes.append(process)
        return process

    monkeypatch.setattr(espeak_module.asyncio, "create_subprocess_exec", recording)
    stream = espeak.synthesize(LONG * 4)
    await anext(stream)
    await stream.aclose()
    assert processes and processes[0].returncode is not None


async def test_no_voice_says_nothing() -> None:
    assert [chunk async for chunk in NoVoice().synthesize(TEXT)] == []


def test_voice_from_spec(piper: PiperVoice, espeak: EspeakVoice) -> None:
    assert isinstance(voice_from_spec("none"), NoVoice)
    assert voice_from_spec("espeak").name == "espeak:en-us"
    assert voice_from_spec("espeak:en+f3").name == "espeak:en+f3"
    path = piper_voice_path()
    assert voice_from_spec(str(path)).name == "piper:en_US-joe-medium"
    folder = piper.path.parent
    assert voice_from_spec("piper:en_US-joe-medium", folder=folder).sample_rate == 22_050
    with pytest.raises(VoxagentError, match="voxagent voices download en_US-lessac-medium"):
        voice_from_spec("piper:en_US-lessac-medium", folder=folder)
    with pytest.raises(VoxagentError, match="unknown voice 'robot'"):
        voice_from_spec("robot")


def test_the_default_voice_is_piper_where_one_is_installed(
    piper: PiperVoice, espeak: EspeakVoice, tmp_path: Path
) -> None:
    voice, note = default_voice(piper.path.parent)
    assert isinstance(voice, PiperVoice) and note is None
    notes: list[str] = []
    fallback = voice_from_spec(None, folder=piper.path.parent / "nowhere", note=notes.append)
    assert isinstance(fallback, EspeakVoice)
    assert len(notes) == 1 and "voxagent voices download" in notes[0]


def test_the_voices_folder_comes_from_the_environment(
    piper: PiperVoice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for suffix in (".onnx", ".onnx.json"):
        (tmp_path / f"en_US-joe-medium{suffix}").symlink_to(f"{piper.path}{suffix[5:]}")
    (tmp_path / "no-config.onnx").write_bytes(b"")  # a model without its config is not listed
    monkeypatch.setenv(VOICES_ENV, str(tmp_path))
    assert voices_folder() == tmp_path
    assert installed_piper_voices() == [tmp_path / "en_US-joe-medium.onnx"]
    assert voice_from_spec("piper:en_US-joe-medium").name == "piper:en_US-joe-medium"


def test_a_bad_voice_name_is_refused_before_any_download(tmp_path: Path) -> None:
    with pytest.raises(VoxagentError, match="LANG_REGION-NAME-QUALITY"):
        download_piper_voice("lessac", tmp_path)
    assert list(tmp_path.iterdir()) == []
