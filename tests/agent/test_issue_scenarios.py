"""Issue 3's public API, scenario by scenario, as its text states it (against `ScriptedServer`).

Each test follows one sentence or code line of the issue; together they are the acceptance
check a reader of the issue would write without looking at the implementation.
"""

import asyncio
import io
import json
from pathlib import Path

import numpy as np
import openai
import pytest
import soundfile as sf
from mistral_common.tokens.tokenizers.audio import Audio

from agent import (
    Agent,
    BadAudioError,
    ReplyText,
    RequestRejectedError,
    ServerError,
    ServerUnavailableError,
    StreamError,
    Turn,
    VoxagentError,
)
from agent.testing import ScriptedCall, ScriptedServer, tone
from tools import Toolbox, ToolResult, tool

INSTRUCTIONS = "You are a helpful desktop assistant..."
FAST = {"retry_backoff": 0.001}


@tool
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city name
    """
    return f"sunny in {city}"


@tool
def set_timer(minutes: int) -> str:
    """Start a timer.

    Args:
        minutes: how long
    """
    return f"timer set for {minutes} min"


def _wav_bytes(samples: np.ndarray, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _float_tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    times = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * times)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def _audio_parts(message: dict) -> list[dict]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [part for part in content if part.get("type") == "input_audio"]


def _audio_count(messages: list[dict]) -> int:
    return sum(len(_audio_parts(message)) for message in messages)


def _sent_wav(request, index: int = 0) -> sf._SoundFileInfo:
    import base64

    part = [p for m in request.messages for p in _audio_parts(m)][index]
    assert part["input_audio"]["format"] == "wav"
    return sf.info(io.BytesIO(base64.b64decode(part["input_audio"]["data"])))


# --- the constructor ----------------------------------------------------------------------


async def test_the_constructor_as_written_in_the_issue(scripted_server) -> None:
    scripted_server.reply("Hello.")
    agent = Agent(
        tools=[get_weather, set_timer],
        base_url=scripted_server.base_url,
        model=None,
        instructions=INSTRUCTIONS,
        api_key="EMPTY", temperature=0.2, top_p=0.95, max_tool_rounds=5, stream=False,
    )  # fmt: skip
    turn = await agent.run(audio=tone(1.0), sample_rate=16000)
    assert isinstance(turn, Turn) and turn.text == "Hello."
    request = scripted_server.requests[0]
    assert request.body["model"] == scripted_server.model  # model=None: the first one listed
    assert request.body["temperature"] == 0.2 and request.body["top_p"] == 0.95
    assert request.stream is False
    assert request.tool_names == ["get_weather", "set_timer"]
    await agent.aclose()


def test_the_default_base_url_and_the_environment_variable(monkeypatch) -> None:
    monkeypatch.delenv("VOXAGENT_BASE_URL", raising=False)
    assert Agent().base_url == "http://127.0.0.1:8000/v1"
    monkeypatch.setenv("VOXAGENT_BASE_URL", "http://10.0.0.7:9000/v1")
    assert Agent().base_url == "http://10.0.0.7:9000/v1"
    assert Agent(base_url="http://127.0.0.1:1234/v1").base_url == "http://127.0.0.1:1234/v1"


async def test_the_environment_variable_is_used_for_requests(scripted_server, monkeypatch):
    monkeypatch.setenv("VOXAGENT_BASE_URL", scripted_server.base_url)
    scripted_server.reply("from env")
    async with Agent([get_weather]) as agent:
        assert (await agent.run(text="hi")).text == "from env"


async def test_model_none_takes_the_first_listed_model() -> None:
    with ScriptedServer(model="my-voxtral") as server:
        server.reply("ok")
        async with Agent(base_url=server.base_url) as agent:
            await agent.run(text="x")
            assert agent.model == "my-voxtral"
        assert server.requests[0].body["model"] == "my-voxtral"


async def test_a_toolbox_and_plain_functions_are_accepted(scripted_server) -> None:
    def shout(word: str) -> str:
        """Shout a word.

        Args:
            word: the word
        """
        return word.upper()

    scripted_server.reply_tool_call("shout", {"word": "hey"}).reply("done")
    scripted_server.reply_tool_call("get_weather", {"city": "Oslo"}).reply("done")
    async with Agent([shout], base_url=scripted_server.base_url) as agent:
        assert (await agent.run(text="x")).tool_results[0].content == "HEY"
    async with Agent(Toolbox([get_weather]), base_url=scripted_server.base_url) as agent:
        assert (await agent.run(text="x")).tool_results[0].content == "sunny in Oslo"


# --- run(): the call forms of the issue ---------------------------------------------------


async def test_run_with_a_wav_path(scripted_server, tmp_path: Path) -> None:
    path = tmp_path / "command.wav"
    path.write_bytes(_wav_bytes(tone(1.0)))
    scripted_server.reply_tool_call("set_timer", {"minutes": 5}).reply("Timer set.")
    async with Agent([get_weather, set_timer], base_url=scripted_server.base_url) as agent:
        turn = await agent.run(audio=str(path))
    assert turn.text == "Timer set."
    assert [r.content for r in turn.tool_results] == ["timer set for 5 min"]
    assert _audio_count(scripted_server.requests[0].messages) == 1


async def test_run_with_44k_pcm_text_and_required(scripted_server) -> None:
    pcm = (_float_tone(2.0, 44100) * 32767).astype(np.int16)
    scripted_server.reply_tool_call("get_weather", {"city": "Rome"}).reply("Sunny.")
    async with Agent([get_weather, set_timer], base_url=scripted_server.base_url) as agent:
        turn = await agent.run(
            audio=pcm, sample_rate=44100, text="Answer briefly.", tool_choice="required"
        )
    first, second = scripted_server.requests
    assert first.tool_choice == "required"
    assert second.tool_choice == "auto"
    assert "Answer briefly." in first.texts
    info = _sent_wav(first)
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert info.duration == pytest.approx(2.0, abs=0.01)
    assert turn.audio_seconds == pytest.approx(2.0, abs=0.01)
    assert turn.text == "Sunny."


def test_run_sync_with_wav_bytes(scripted_server) -> None:
    scripted_server.reply("Synced.")
    agent = Agent([get_weather], base_url=scripted_server.base_url)
    data = _wav_bytes(tone(0.5))
    assert data.startswith(b"RIFF")
    turn = agent.run_sync(audio=data)
    assert turn.text == "Synced."
    scripted_server.reply("Again.")
    assert agent.run_sync(text="and again").text == "Again."  # a second run_sync works too


async def test_run_sync_inside_a_running_loop_is_refused_clearly(scripted_server) -> None:
    agent = Agent([get_weather], base_url=scripted_server.base_url)
    with pytest.raises(RuntimeError) as caught:
        agent.run_sync(audio=tone(0.2), sample_rate=16000)
    message = str(caught.value)
    assert "running event loop" in message and "await agent.run(" in message
    with pytest.raises(RuntimeError, match=r"await agent\.transcribe"):
        agent.transcribe_sync(tone(0.2), sample_rate=16000)
    assert scripted_server.all_requests == []


async def test_two_clips_in_one_turn(scripted_server, tmp_path: Path) -> None:
    first, second = tmp_path / "obama.wav", tmp_path / "bcn_weather.wav"
    first.write_bytes(_wav_bytes(tone(1.0)))
    second.write_bytes(_wav_bytes(tone(2.0)))
    scripted_server.reply("The first.")
    async with Agent(base_url=scripted_server.base_url) as agent:
        turn = await agent.run(
            audio=[str(first), str(second)], text="Which speaker is more inspiring? Why?"
        )
    assert turn.text == "The first."
    request = scripted_server.requests[0]
    user = request.messages[-1]
    kinds = [part["type"] for part in user["content"]]
    assert kinds == ["input_audio", "input_audio", "text"]
    assert _sent_wav(request, 0).duration == pytest.approx(1.0)
    assert _sent_wav(request, 1).duration == pytest.approx(2.0)


@pytest.mark.parametrize("count", [6, 7])
async def test_more_than_five_clips_is_a_value_error_before_any_request(scripted_server, count):
    async with Agent(base_url=scripted_server.base_url) as agent:
        with pytest.raises(ValueError, match="5"):
            await agent.run(audio=[tone(0.2)] * count, sample_rate=16000)
    assert scripted_server.all_requests == []


async def test_five_clips_are_accepted(scripted_server) -> None:
    scripted_server.reply("five")
    async with Agent(base_url=scripted_server.base_url, transcribe_turns=False) as agent:
        assert (await agent.run(audio=[tone(0.2)] * 5, sample_rate=16000)).text == "five"
    assert scripted_server.requests[0].audio_count == 5


# --- every kind of clip -------------------------------------------------------------------


def _write(path: Path, samples: np.ndarray, rate: int, fmt: str) -> Path:
    subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}[fmt]
    sf.write(path, samples, rate, format=fmt, subtype=subtype)
    return path


@pytest.mark.parametrize(
    ("suffix", "fmt", "rate", "channels"),
    [
        (".wav", "WAV", 16000, 1),
        (".wav", "WAV", 44100, 2),
        (".flac", "FLAC", 48000, 1),
        (".ogg", "OGG", 22050, 2),
        (".mp3", "MP3", 44100, 1),
    ],
)
async def test_every_file_format_is_sent_as_16k_mono_wav(
    scripted_server, tmp_path: Path, suffix: str, fmt: str, rate: int, channels: int
) -> None:
    path = _write(tmp_path / f"clip{suffix}", _float_tone(1.5, rate, channels), rate, fmt)
    scripted_server.reply("heard")
    async with Agent(base_url=scripted_server.base_url) as agent:
        turn = await agent.run(audio=str(path))
    assert turn.text == "heard"
    info = _sent_wav(scripted_server.requests[0])
    assert (info.format, info.samplerate, info.channels) == ("WAV", 16000, 1)
    assert info.duration == pytest.approx(1.5, abs=0.1)
    assert scripted_server.rejected == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: tone(1.0),  # int16 (n,)
        lambda: np.stack([tone(1.0)] * 2, axis=1),  # int16 (n, 2)
        lambda: _float_tone(1.0, 16000),  # float32 (n,)
        lambda: _float_tone(1.0, 16000, channels=2),  # float32 (n, 2)
        lambda: _wav_bytes(tone(1.0)),  # WAV bytes
        lambda: Audio(audio_array=_float_tone(1.0, 24000), sampling_rate=24000, format="wav"),
    ],
    ids=["int16", "int16-stereo", "float32", "float32-stereo", "wav-bytes", "mistral-audio"],
)
async def test_every_in_memory_clip_kind(scripted_server, make) -> None:
    scripted_server.reply("ok")
    async with Agent(base_url=scripted_server.base_url) as agent:
        turn = await agent.run(audio=make(), sample_rate=16000)  # files, Audio: their own
    assert turn.audio_seconds == pytest.approx(1.0, abs=0.01)
    info = _sent_wav(scripted_server.requests[0])
    assert (info.samplerate, info.channels) == (16000, 1)


async def test_a_mistral_audio_from_a_stereo_file(scripted_server, tmp_path: Path) -> None:
    path = _write(tmp_path / "stereo.wav", _float_tone(1.0, 44100, 2), 44100, "WAV")
    scripted_server.reply("ok")
    async with Agent(base_url=scripted_server.base_url) as agent:
        await agent.run(audio=Audio.from_file(str(path), strict=False))
    assert _sent_wav(scripted_server.requests[0]).channels == 1


async def test_sample_rate_applies_to_arrays(scripted_server) -> None:
    scripted_server.reply("ok")
    async with Agent(base_url=scripted_server.base_url) as agent:
        turn = await agent.run(audio=_float_tone(1.0, 8000), sample_rate=8000)
    assert turn.audio_seconds == pytest.approx(1.0, abs=0.01)


def _big_wav(tmp_path: Path) -> Path:
    """A 27 MB WAV that lasts under 600 s (48 kHz stereo float32: 150 s)."""
    path = tmp_path / "big.wav"
    with sf.SoundFile(path, "w", 48000, 2, subtype="FLOAT", format="WAV") as out:
        block = np.zeros((48000 * 10, 2), dtype=np.float32)
        for _ in range(7):
            out.write(block)
    assert path.stat().st_size > 25 * 1024 * 1024
    return path


@pytest.mark.parametrize(
    "kind",
    [
        "empty-array",
        "empty-bytes",
        "empty-list",
        "over-600s",
        "over-600s-file",
        "over-25MB-file",
        "over-25MB-bytes",
        "int",
        "dict",
        "text-bytes",
        "text-file",
        "missing-file",
        "3d-array",
    ],
)
async def test_bad_clips_are_value_errors_before_any_request(scripted_server, tmp_path, kind):
    if kind == "empty-array":
        audio = np.zeros(0, dtype=np.int16)
    elif kind == "empty-bytes":
        audio = b""
    elif kind == "empty-list":
        audio = []
    elif kind == "over-600s":
        audio = np.zeros(16000 * 601, dtype=np.int16)
    elif kind == "over-600s-file":
        audio = tmp_path / "long.wav"
        sf.write(audio, np.zeros(8000 * 601, dtype=np.int16), 8000)
    elif kind == "over-25MB-file":
        audio = _big_wav(tmp_path)
    elif kind == "over-25MB-bytes":
        audio = _big_wav(tmp_path).read_bytes()
    elif kind == "int":
        audio = 42
    elif kind == "dict":
        audio = {"data": "x"}
    elif kind == "text-bytes":
        audio = b"this is not audio at all, just some text"
    elif kind == "text-file":
        audio = tmp_path / "notes.wav"
        audio.write_text("hello, not a wav")
    elif kind == "missing-file":
        audio = tmp_path / "nowhere.wav"
    else:
        audio = np.zeros((10, 2, 2), dtype=np.int16)
    async with Agent(base_url=scripted_server.base_url) as agent:
        with pytest.raises(ValueError) as caught:
            await agent.run(audio=audio)
        assert isinstance(caught.value, BadAudioError | VoxagentError)
        assert str(caught.value)  # a message, not a bare exception
    assert scripted_server.all_requests == []


# --- transcription ------------------------------------------------------------------------


async def test_transcribe_with_and_without_a_language(scripted_server, tmp_path) -> None:
    path = _write(tmp_path / "obama.mp3", _float_tone(1.0, 44100), 44100, "MP3")
    scripted_server.transcribe_as("yes we can", "hola")
    async with Agent(base_url=scripted_server.base_url) as agent:
        assert await agent.transcribe(str(path), language="en") == "yes we can"
        assert await agent.transcribe(tone(0.5), sample_rate=16000) == "hola"
    with_language, without = scripted_server.transcriptions
    assert with_language.body["language"] == "en"
    assert "language" not in without.body
    assert with_language.body["model"] == scripted_server.model
    assert float(with_language.body["temperature"]) == 0.0
    assert sf.info(io.BytesIO(with_language.body["file"])).channels == 1
    assert scripted_server.requests == []


def test_transcribe_sync(scripted_server) -> None:
    scripted_server.transcribe_as("bonjour")
    agent = Agent(base_url=scripted_server.base_url)
    assert agent.transcribe_sync(tone(0.5), language="fr", sample_rate=16000) == "bonjour"


# --- the turn -----------------------------------------------------------------------------


async def test_turn_fields(scripted_server) -> None:
    scripted_server.transcribe_as("what's the weather in Paris")
    scripted_server.reply_tool_call("get_weather", {"city": "Paris"}).reply("Sunny in Paris.")
    async with Agent([get_weather, set_timer], base_url=scripted_server.base_url) as agent:
        turn = await agent.run(audio=tone(1.0), sample_rate=16000)
        await agent.wait_for_transcripts()
    assert turn.text == "Sunny in Paris."
    assert all(isinstance(result, ToolResult) for result in turn.tool_results)
    assert [(r.name, r.content, r.ok) for r in turn.tool_results] == [
        ("get_weather", "sunny in Paris", True)
    ]
    assert turn.transcript == "what's the weather in Paris"
    assert turn.usage.prompt_tokens > 0 and turn.usage.completion_tokens > 0
    timings = turn.timings
    assert timings.total >= timings.model > 0 and timings.tools >= 0
    assert timings.time_to_first_token is not None
    assert 0 < timings.time_to_first_token <= timings.total


async def test_text_only_turn_has_no_transcript_and_empty_reply_is_empty_text(scripted_server):
    scripted_server.reply("")
    async with Agent(base_url=scripted_server.base_url) as agent:
        turn = await agent.run(text="hello?")
    assert turn.text == "" and turn.transcript is None and turn.tool_results == []


async def test_tool_results_keep_call_order_over_rounds(scripted_server) -> None:
    scripted_server.reply_tool_calls(("set_timer", {"minutes": 1}), ("get_weather", {"city": "A"}))
    scripted_server.reply_tool_call("get_weather", {"city": "B"})
    scripted_server.reply("all done")
    async with Agent([get_weather, set_timer], base_url=scripted_server.base_url) as agent:
        turn = await agent.run(text="go")
    assert [r.content for r in turn.tool_results] == [
        "timer set for 1 min",
        "sunny in A",
        "sunny in B",
    ]


# --- the history --------------------------------------------------------------------------


async def test_history_over_eight_audio_turns_with_tools(scripted_server) -> None:
    scripted_server.transcribe_as(*(f"utterance {i}" for i in range(8)))
    for i in range(8):
        if i % 2 == 0:
            scripted_server.reply_tool_call("get_weather", {"city": f"C{i}"})
        scripted_server.reply("" if i == 3 else f"answer {i}")
    async with Agent(
        [get_weather, set_timer], base_url=scripted_server.base_url, instructions=INSTRUCTIONS
    ) as agent:
        for _ in range(8):
            await agent.run(audio=tone(0.5), sample_rate=16000)
            await agent.wait_for_transcripts()
        history = agent.history
    assert scripted_server.rejected == []
    assert all(message["role"] != "system" for message in history)
    assert history[0] == {"role": "user", "content": INSTRUCTIONS}
    assert _audio_count(history) <= 5
    assert all(request.audio_count <= 5 for request in scripted_server.requests)
    assert any("utterance 0" in json.dumps(message) for message in history)
    for position, message in enumerate(history):
        if message["role"] == "assistant":
            assert message.get("content") or message.get("tool_calls"), message
            calls = message.get("tool_calls") or []
            following = history[position + 1 : position + 1 + len(calls)]
            assert [m["role"] for m in following] == ["tool"] * len(calls)
            assert [m["tool_call_id"] for m in following] == [c["id"] for c in calls]
    # Every request carried the instructions as user text, never a system message.
    for request in scripted_server.requests:
        assert request.messages[0] == {"role": "user", "content": INSTRUCTIONS}
        assert "system" not in request.roles


async def test_the_tool_call_ids_are_the_servers(scripted_server) -> None:
    scripted_server.reply_tool_calls(
        ScriptedCall("get_weather", {"city": "X"}, id="Qx7Kp2LmZ"),
        ScriptedCall("set_timer", {"minutes": 2}, id="aB3dE5gH7"),
    ).reply("ok")
    async with Agent([get_weather, set_timer], base_url=scripted_server.base_url) as agent:
        turn = await agent.run(text="both")
        history = agent.history
    assert [r.call_id for r in turn.tool_results] == ["Qx7Kp2LmZ", "aB3dE5gH7"]
    assistant = next(m for m in history if m.get("tool_calls"))
    assert [c["id"] for c in assistant["tool_calls"]] == ["Qx7Kp2LmZ", "aB3dE5gH7"]
    tools = [m for m in history if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tools] == ["Qx7Kp2LmZ", "aB3dE5gH7"]


async def test_reset_forgets_the_conversation(scripted_server) -> None:
    scripted_server.reply("one").reply("two")
    async with Agent(base_url=scripted_server.base_url, instructions=INSTRUCTIONS) as agent:
        await agent.run(audio=tone(0.3), sample_rate=16000)
        assert _audio_count(agent.history) == 1
        agent.reset()
        assert agent.history == []
        assert agent.instructions == INSTRUCTIONS
        await agent.run(text="fresh")
    second = scripted_server.requests[1]
    assert second.audio_count == 0
    assert second.messages == [
        {"role": "user", "content": INSTRUCTIONS},
        {"role": "user", "content": "fresh"},
    ]


# --- the tool loop ------------------------------------------------------------------------


async def test_the_tool_loop_stops_at_max_tool_rounds_with_a_note(scripted_server, caplog):
    for _ in range(6):
        scripted_server.reply_tool_call("get_weather", {"city": "Loop"})
    scripted_server.reply("next turn")
    async with Agent([get_weather], base_url=scripted_server.base_url, max_tool_rounds=5) as agent:
        turn = await agent.run(text="loop forever", tool_choice="required")
        assert len(turn.tool_results) == 5
        assert "5" in turn.text and "tool round" in turn.text
        assert "max_tool_rounds" in caplog.text
        assert len(scripted_server.requests) == 6
        assert [r.tool_choice for r in scripted_server.requests] == ["required"] + ["auto"] * 5
        assert (await agent.run(text="hello")).text == "next turn"
    assert scripted_server.rejected == []


async def test_tool_choice_is_auto_after_tools_ran_also_when_named(scripted_server) -> None:
    scripted_server.reply_tool_call("set_timer", {"minutes": 3}).reply("ok")
    scripted_server.reply("plain")
    async with Agent([get_weather, set_timer], base_url=scripted_server.base_url) as agent:
        await agent.run(text="timer", tool_choice="set_timer")
        await agent.run(text="thanks")
    named, after, next_turn = scripted_server.requests
    assert named.tool_choice == {"type": "function", "function": {"name": "set_timer"}}
    assert after.tool_choice == "auto" and next_turn.tool_choice == "auto"


# --- malformed model output ---------------------------------------------------------------


async def test_invalid_json_arguments_go_back_as_an_error_result(scripted_server) -> None:
    scripted_server.reply_tool_calls(ScriptedCall("get_weather", '{"city": "Par'))
    scripted_server.reply("Sorry, I could not check.")
    async with Agent([get_weather], base_url=scripted_server.base_url) as agent:
        turn = await agent.run(text="weather")
    assert turn.tool_results[0].ok is False
    assert turn.text == "Sorry, I could not check."
    tool_message = scripted_server.requests[1].tool_messages[0]
    assert tool_message["content"] and "json" in tool_message["content"].lower()


async def test_an_unknown_tool_goes_back_as_an_error_result(scripted_server) -> None:
    scripted_server.reply_tool_call("launch_rockets", {"count": 3}).reply("I cannot.")
    async with Agent([get_weather], base_url=scripted_server.base_url) as agent:
        turn = await agent.run(text="launch")
    assert turn.tool_results[0].ok is False
    assert "launch_rockets" in scripted_server.requests[1].tool_messages[0]["content"]
    assert turn.text == "I cannot."


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "content",
    [
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Nice"}}]',
        '[{"name": "get_weather", "arguments": {"city": "Nice"}}]',
        'Let me check.[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Nice"}}]',
    ],
    ids=["marker", "no-marker", "text-first"],
)
async def test_valid_calls_left_in_the_text_are_recovered(scripted_server, stream, content):
    scripted_server.reply(content).reply("Nice is sunny.")
    heard: list[str] = []
    async with Agent([get_weather], base_url=scripted_server.base_url, stream=stream) as agent:
        turn = await agent.run(
            text="weather in Nice",
            on_event=lambda e: heard.append(e.delta) if isinstance(e, ReplyText) else None,
        )
    assert [r.content for r in turn.tool_results] == ["sunny in Nice"]
    assert turn.text == "Nice is sunny."
    assistant = scripted_server.requests[1].messages[-2]
    call_id = assistant["tool_calls"][0]["id"]
    assert len(call_id) == 9 and call_id.isalnum()
    assert scripted_server.requests[1].messages[-1]["tool_call_id"] == call_id
    assert "TOOL_CALLS" not in "".join(heard) and '"name"' not in "".join(heard)
    assert scripted_server.rejected == []


async def test_an_invalid_call_list_in_the_text_goes_back_as_an_error(scripted_server) -> None:
    scripted_server.reply('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": ')
    scripted_server.reply("Sorry.")
    async with Agent([get_weather], base_url=scripted_server.base_url) as agent:
        turn = await agent.run(text="weather")
        history = agent.history
    assert len(turn.tool_results) == 1 and not turn.tool_results[0].ok
    assert turn.text == "Sorry."
    assert scripted_server.rejected == []
    assert all("[TOOL_CALLS]" not in str(m.get("content")) for m in history)


# --- streaming ----------------------------------------------------------------------------


async def test_an_error_line_mid_stream_raises(scripted_server) -> None:
    scripted_server.reply("first")
    scripted_server.fail_mid_stream("CUDA out of memory", partial="Hel")
    scripted_server.reply("works again")
    async with Agent(base_url=scripted_server.base_url, stream=True, **FAST) as agent:
        await agent.run(text="one")
        before = agent.history
        with pytest.raises(ServerError, match="CUDA out of memory") as caught:
            await agent.run(text="two")
        assert isinstance(caught.value, StreamError)
        assert agent.history == before
        assert (await agent.run(text="three")).text == "works again"


async def test_an_error_line_before_any_text_raises_too(scripted_server) -> None:
    scripted_server.fail_mid_stream("engine crashed")
    async with Agent(base_url=scripted_server.base_url, stream=True, **FAST) as agent:
        with pytest.raises(StreamError, match="engine crashed"):
            await agent.run(text="x")
    assert len(scripted_server.requests) == 1


async def test_streamed_text_deltas_reach_the_callback(scripted_server) -> None:
    text = "It is sunny in Paris and about twenty degrees."
    scripted_server.reply_tool_call("get_weather", {"city": "Paris"}).reply(text)
    deltas: list[str] = []

    async def on_event(event) -> None:
        if isinstance(event, ReplyText):
            deltas.append(event.delta)

    async with Agent([get_weather], base_url=scripted_server.base_url, stream=True) as agent:
        turn = await agent.run(audio=tone(0.5), on_event=on_event, sample_rate=16000)
    assert turn.text == text and len(deltas) > 1 and "".join(deltas) == text
    assert all(request.stream for request in scripted_server.requests)
    assert turn.tool_results[0].content == "sunny in Paris"


async def test_stream_and_plain_give_the_same_turn(scripted_server) -> None:
    for _ in range(2):
        scripted_server.reply_tool_calls(
            ("get_weather", {"city": "Lyon"}), ("set_timer", {"minutes": 4})
        ).reply("Done.")
    results = []
    for stream in (False, True):
        async with Agent(
            [get_weather, set_timer], base_url=scripted_server.base_url, stream=stream
        ) as agent:
            turn = await agent.run(text="both")
            results.append((turn.text, [r.content for r in turn.tool_results], turn.rounds))
    assert results[0] == results[1]


# --- failures -----------------------------------------------------------------------------


async def test_connection_refused_names_the_url_and_voxagent_serve(unused_port) -> None:
    url = f"http://127.0.0.1:{unused_port}/v1"
    async with Agent(base_url=url, **FAST) as agent:
        with pytest.raises(ServerUnavailableError) as caught:
            await agent.run(audio=tone(0.3), sample_rate=16000)
    assert url in str(caught.value) and "voxagent serve" in str(caught.value)
    assert isinstance(caught.value, VoxagentError)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_retryable_statuses_are_retried_then_succeed(scripted_server, status) -> None:
    scripted_server.fail(status, "try later", times=2).reply("finally")
    async with Agent(base_url=scripted_server.base_url, **FAST) as agent:
        assert (await agent.run(text="x")).text == "finally"
    assert [r.status for r in scripted_server.requests] == [status, status, 200]


async def test_five_500s_give_an_error_after_exactly_five_attempts(scripted_server) -> None:
    scripted_server.fail(500, "engine died", times=5)
    async with Agent(base_url=scripted_server.base_url, **FAST) as agent:
        with pytest.raises(ServerError) as caught:
            await agent.run(audio=tone(0.3), sample_rate=16000)
    assert len(scripted_server.requests) == 5
    assert caught.value.status_code == 500
    assert scripted_server.base_url in str(caught.value)


async def test_a_400_is_not_retried_and_carries_the_servers_message(scripted_server) -> None:
    scripted_server.fail(400, "Unexpected role 'tool' after role 'user'")
    async with Agent(base_url=scripted_server.base_url, **FAST) as agent:
        with pytest.raises(RequestRejectedError) as caught:
            await agent.run(text="x")
    assert "Unexpected role" in caught.value.server_message
    assert len(scripted_server.requests) == 1


async def test_a_failed_turn_in_the_tool_loop_keeps_what_its_tools_did(scripted_server):
    """Issue 8 (1.7) changed this: the failed turn's tool call and result are recorded."""
    scripted_server.reply_tool_call("get_weather", {"city": "A"}).reply("first done")
    scripted_server.reply_tool_call("get_weather", {"city": "B"})
    scripted_server.fail(503, "overloaded", times=5)
    scripted_server.reply("recovered")
    async with Agent([get_weather], base_url=scripted_server.base_url, **FAST) as agent:
        await agent.run(audio=tone(0.3), sample_rate=16000)
        with pytest.raises(ServerError):
            await agent.run(audio=tone(0.3), sample_rate=16000)
        assert agent.turns == 2
        turn = await agent.run(text="still there?")
        assert turn.text == "recovered"
        await agent.wait_for_transcripts()
    last = scripted_server.requests[-1]
    assert [m["content"] for m in last.tool_messages] == ["sunny in A", "sunny in B"]
    assert sum(len(m.get("tool_calls") or []) for m in last.messages) == 2
    assert scripted_server.rejected == []


# --- many agents --------------------------------------------------------------------------


async def test_many_agents_run_concurrently_with_their_own_conversations() -> None:
    from agent.testing import Step

    def respond(request) -> Step:
        said = request.messages[-1]["content"]
        return Step(content=f"echo {said}")

    with ScriptedServer(responder=respond) as server:
        agents = [Agent(base_url=server.base_url) for _ in range(20)]
        turns = await asyncio.gather(
            *(agent.run(text=f"agent {i}") for i, agent in enumerate(agents))
        )
        assert [turn.text for turn in turns] == [f"echo agent {i}" for i in range(20)]
        for i, agent in enumerate(agents):
            assert agent.history[-1] == {"role": "assistant", "content": f"echo agent {i}"}
            await agent.aclose()


async def test_agents_share_one_client(scripted_server) -> None:
    for _ in range(6):
        scripted_server.reply("shared")
    client = openai.AsyncOpenAI(base_url=scripted_server.base_url, api_key="EMPTY")
    agents = [Agent(base_url=scripted_server.base_url, http_client=client) for _ in range(3)]
    for _ in range(2):
        turns = await asyncio.gather(
            *(agent.run(audio=tone(0.2), sample_rate=16000) for agent in agents)
        )
        assert [turn.text for turn in turns] == ["shared"] * 3
    for agent in agents:
        await agent.aclose()
    # Closing the agents leaves the shared client usable.
    models = await client.models.list()
    assert models.data[0].id == scripted_server.model
    await client.close()
