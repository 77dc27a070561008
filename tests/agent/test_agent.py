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
    InvalidRequestError,
    ReplyText,
    RequestRejectedError,
    ServerError,
    ServerUnavailableError,
    StreamError,
    ToolCallFinished,
    ToolCallStarted,
    Turn,
    VoxagentError,
)
from agent.testing import ScriptedCall, ScriptedServer, tone
from tests.agent.conftest import get_weather, set_timer
from tools import Toolbox, ToolContext, ToolResult, tool


async def test_a_text_turn_sends_instructions_as_user_text(scripted_server, make_agent) -> None:
    scripted_server.reply("Hello!")
    agent = make_agent(instructions="Be brief.")
    turn = await agent.run(text="hi")
    assert turn.text == "Hello!"
    assert turn.rounds == 1 and turn.tool_results == []
    request = scripted_server.requests[0]
    assert request.messages[0] == {"role": "user", "content": "Be brief."}
    assert "system" not in request.roles
    assert request.tool_names == ["get_weather", "set_timer"]
    assert request.body["temperature"] == 0.2 and request.body["top_p"] == 0.95
    assert request.body["model"] == scripted_server.model


async def test_a_tool_round_sends_the_server_ids_back_unchanged(scripted_server, make_agent):
    scripted_server.reply_tool_call("get_weather", {"city": "Paris"}).reply("Sunny.")
    agent = make_agent()
    turn = await agent.run(tone(1.0), tool_choice="required", sample_rate=16000)
    assert turn.text == "Sunny."
    assert [result.content for result in turn.tool_results] == ["sunny in Paris"]
    first, second = scripted_server.requests
    assert first.tool_choice == "required"
    assert second.tool_choice == "auto"  # reset once tools ran
    call = second.messages[-2]["tool_calls"][0]
    assert second.messages[-1] == {
        "role": "tool",
        "tool_call_id": call["id"],
        "content": "sunny in Paris",
    }
    assert call["id"] == turn.tool_results[0].call_id
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert turn.rounds == 2 and turn.usage.prompt_tokens > 0


async def test_parallel_calls_run_together_in_call_order(scripted_server, make_agent) -> None:
    scripted_server.reply_tool_calls(
        ("set_timer", {"minutes": 5}), ("get_weather", {"city": "Rome"})
    ).reply("Done.")
    turn = await make_agent().run(text="timer and weather")
    assert turn.tool_calls == ["set_timer", "get_weather"]
    tool_messages = scripted_server.requests[1].tool_messages
    assert [m["content"] for m in tool_messages] == ["timer set for 5 min", "sunny in Rome"]


async def test_events_reach_sync_and_async_handlers(scripted_server, make_agent) -> None:
    scripted_server.reply_tool_call("get_weather", {"city": "Oslo"}).reply("Cold.")
    events: list[object] = []

    async def handler(event: object) -> None:
        events.append(event)

    await make_agent().run(text="weather", on_event=handler)
    kinds = [type(event) for event in events]
    assert kinds == [ToolCallStarted, ToolCallFinished, ReplyText]
    assert events[0].arguments == {"city": "Oslo"}
    assert events[2].delta == "Cold."


async def test_started_event_shows_arguments_as_the_toolbox_reads_them(
    scripted_server, make_agent
) -> None:
    # Arguments encoded twice as JSON (a slip small models make) are read the same way by the
    # event and by the toolbox, so a UI shows what the tool received.
    scripted_server.reply_tool_call("get_weather", json.dumps(json.dumps({"city": "Oslo"})))
    scripted_server.reply("Cold.")
    events: list[object] = []
    turn = await make_agent().run(text="weather", on_event=events.append)
    assert events[0].arguments == {"city": "Oslo"}
    assert turn.tool_results[0].arguments == {"city": "Oslo"}


async def test_streamed_text_arrives_as_deltas(scripted_server, make_agent) -> None:
    scripted_server.reply_tool_call("get_weather", {"city": "Lima"})
    scripted_server.reply("It is warm and sunny in Lima today.")
    deltas: list[str] = []
    agent = make_agent(stream=True)
    turn = await agent.run(
        tone(0.5),
        on_event=lambda e: deltas.append(e.delta) if isinstance(e, ReplyText) else None,
        sample_rate=16000,
    )
    assert len(deltas) > 1 and "".join(deltas) == turn.text
    assert turn.tool_results[0].content == "sunny in Lima"
    assert all(request.stream for request in scripted_server.requests)
    assert turn.timings.time_to_first_token is not None
    assert turn.timings.time_to_first_token <= turn.timings.total


async def test_a_failing_event_handler_does_not_kill_the_turn(scripted_server, make_agent):
    scripted_server.reply("fine")

    def broken(event: object) -> None:
        raise RuntimeError("UI crashed")

    assert (await make_agent().run(text="x", on_event=broken)).text == "fine"


async def test_max_tool_rounds_ends_the_turn_with_a_note(scripted_server, make_agent, caplog):
    for _ in range(3):
        scripted_server.reply_tool_call("get_weather", {"city": "Loop"})
    scripted_server.reply("next turn works")
    agent = make_agent(max_tool_rounds=2)
    turn = await agent.run(text="loop", tool_choice="required")
    assert turn.hit_tool_round_limit
    assert "limit of 2 tool rounds" in turn.text
    assert len(turn.tool_results) == 2
    assert "max_tool_rounds" in caplog.text
    # The unanswered calls got tool messages, so the history stays valid for the server.
    assert (await agent.run(text="again")).text == "next turn works"
    assert scripted_server.rejected == []


async def test_an_empty_reply_is_never_replayed(scripted_server, make_agent) -> None:
    scripted_server.reply("").reply("second")
    agent = make_agent()
    first = await agent.run(tone(0.5), sample_rate=16000)
    assert first.text == ""
    assert all(m["role"] != "assistant" for m in agent.history)
    assert (await agent.run(tone(0.5), sample_rate=16000)).text == "second"
    assert scripted_server.rejected == []


async def test_calls_left_in_the_text_are_recovered(scripted_server, make_agent) -> None:
    scripted_server.reply('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Nice"}}]')
    scripted_server.reply("Recovered.")
    turn = await make_agent().run(text="weather")
    assert turn.tool_results[0].content == "sunny in Nice"
    assert turn.text == "Recovered."
    assistant = scripted_server.requests[1].messages[-2]
    assert len(assistant["tool_calls"][0]["id"]) == 9


async def test_malformed_calls_go_back_to_the_model_as_errors(scripted_server, make_agent):
    scripted_server.reply_tool_calls(
        ScriptedCall("get_weather", '{"city": '),
        ScriptedCall("no_such_tool", {}),
    )
    scripted_server.reply('[TOOL_CALLS][{"name": "get_weather", "arguments": {"ci')
    scripted_server.reply("Sorry.")
    turn = await make_agent().run(text="weather")
    assert [result.ok for result in turn.tool_results] == [False, False, False]
    assert turn.tool_results[0].error_kind == "invalid_arguments"
    assert turn.tool_results[1].error_kind == "unknown_tool"
    assert turn.text == "Sorry."
    assert scripted_server.rejected == []


async def test_server_errors_are_retried(scripted_server, make_agent) -> None:
    scripted_server.fail(503, "busy", times=2).disconnect().reply("made it")
    assert (await make_agent().run(text="x")).text == "made it"
    assert [r.status for r in scripted_server.requests] == [503, 503, 0, 200]


async def test_five_failures_raise_and_leave_the_history_alone(scripted_server, make_agent):
    from agent import ServerError

    scripted_server.reply("first")
    scripted_server.fail(500, "engine died", times=5)
    scripted_server.reply("after")
    agent = make_agent()
    await agent.run(tone(0.3), sample_rate=16000)
    before = agent.history
    with pytest.raises(ServerError, match="engine died") as caught:
        await agent.run(tone(0.3), sample_rate=16000)
    assert caught.value.status_code == 500
    assert agent.history == before
    assert (await agent.run(text="go on")).text == "after"
    assert scripted_server.rejected == []


async def test_a_failure_after_tools_ran_keeps_what_they_did(scripted_server, make_agent):
    """Issue 8 (1.7): a turn whose side effects happened is recorded, also when it fails."""
    from agent import ServerError

    scripted_server.reply("first")
    scripted_server.reply_tool_call("get_weather", {"city": "X"})
    scripted_server.fail(500, "engine died", times=5)
    scripted_server.reply("after")
    agent = make_agent()
    await agent.run(tone(0.3), sample_rate=16000)
    before = agent.history
    with pytest.raises(ServerError, match="engine died"):
        await agent.run(tone(0.3), sample_rate=16000)
    after = agent.history
    assert after[: len(before)] == before
    assert [m["role"] for m in after[len(before) :]] == ["user", "assistant", "tool"]
    assert after[-1]["content"] == "sunny in X"
    assert agent._history.records[-1].interrupted
    assert (await agent.run(text="go on")).text == "after"
    assert scripted_server.requests[-1].tool_messages[-1]["content"] == "sunny in X"
    assert scripted_server.rejected == []


async def test_a_rejected_request_is_not_retried(scripted_server, make_agent) -> None:
    from agent import RequestRejectedError

    scripted_server.fail(400, "bad thing")
    with pytest.raises(RequestRejectedError) as caught:
        await make_agent().run(text="x")
    assert caught.value.server_message == "bad thing"
    assert len(scripted_server.requests) == 1


async def test_an_unreachable_server_names_the_url_and_the_fix(unused_port) -> None:
    from agent import ServerUnavailableError

    url = f"http://127.0.0.1:{unused_port}/v1"
    agent = Agent(base_url=url, model="m", max_model_len=4096, retry_backoff=0.001)
    with pytest.raises(ServerUnavailableError) as caught:
        await agent.run(text="x")
    assert url in str(caught.value) and "voxagent serve" in str(caught.value)
    assert "5 attempts" in str(caught.value)
    await agent.aclose()


async def test_a_stream_error_after_text_is_raised_not_retried(scripted_server, make_agent):
    from agent import StreamError

    scripted_server.fail_mid_stream("out of memory", partial="Hel")
    agent = make_agent(stream=True)
    with pytest.raises(StreamError, match="out of memory"):
        await agent.run(text="x", on_event=lambda event: None)
    assert len(scripted_server.requests) == 1
    assert agent.turns == 0


async def test_older_audio_is_replaced_by_transcripts(scripted_server, make_agent) -> None:
    scripted_server.transcribe_as(*(f"utterance {i}" for i in range(7)))
    for i in range(7):
        scripted_server.reply(f"answer {i}")
    agent = make_agent()
    for i in range(7):
        turn = await agent.run(tone(0.5), sample_rate=16000)
        await agent.wait_for_transcripts()  # made in the background, never delaying the reply
        assert turn.transcript == f"utterance {i}"
    last = scripted_server.requests[-1]
    assert last.audio_count == 5
    assert any("utterance 0" in text for text in last.texts)
    assert len(scripted_server.transcriptions) == 7
    assert scripted_server.transcriptions[0].body["temperature"] == "0.0"


async def test_transcription_can_be_turned_off(scripted_server, make_agent) -> None:
    scripted_server.reply("ok")
    turn = await make_agent(transcribe_turns=False).run(tone(0.5), sample_rate=16000)
    assert turn.transcript is None and scripted_server.transcriptions == []


async def test_several_clips_in_one_turn(scripted_server, make_agent) -> None:
    scripted_server.reply("The second.")
    turn = await make_agent().run(
        [tone(0.5), tone(0.7)], text="Which is longer?", sample_rate=16000
    )
    assert turn.audio_seconds == pytest.approx(1.2)
    request = scripted_server.requests[0]
    assert request.audio_count == 2 and "Which is longer?" in request.texts


async def test_bad_audio_fails_before_any_request(scripted_server, make_agent) -> None:
    agent = make_agent()
    with pytest.raises(BadAudioError):
        await agent.run(np.zeros(0, dtype=np.int16))
    with pytest.raises(ValueError, match="audio= or a non-empty text="):
        await agent.run()
    with pytest.raises(InvalidRequestError, match="max_audio_items"):
        await make_agent(max_audio_items=1).run([tone(0.1), tone(0.1)], sample_rate=16000)
    assert scripted_server.all_requests == []


async def test_named_and_invalid_tool_choices(scripted_server, make_agent) -> None:
    scripted_server.reply_tool_call("set_timer", {"minutes": 1}).reply("ok")
    agent = make_agent()
    await agent.run(text="x", tool_choice="set_timer")
    assert scripted_server.requests[0].tool_choice == {
        "type": "function",
        "function": {"name": "set_timer"},
    }
    with pytest.raises(ValueError, match="tool_choice"):
        await agent.run(text="x", tool_choice="nope")


async def test_the_history_is_trimmed_to_the_context(make_agent) -> None:
    with ScriptedServer(max_model_len=2048) as server:
        for _ in range(6):
            server.reply("ok")
        agent = make_agent(base_url=server.base_url, max_tokens=256, max_audio_items=5)
        for _ in range(6):
            await agent.run(tone(1.0), sample_rate=16000)
        assert server.rejected == []
        assert server.requests[-1].audio_count < 5


async def test_tools_receive_the_agent_state(scripted_server, make_agent) -> None:
    seen: list[object] = []

    @tool
    def remember(note: str, context: ToolContext) -> str:
        """Remember a note.

        Args:
            note: the note
        """
        seen.append(context.state)
        return "ok"

    scripted_server.reply_tool_call("remember", {"note": "milk"}).reply("Noted.")
    state = {"user": "ana"}
    await make_agent(tools=[remember], state=state).run(text="remember milk")
    assert seen == [state]


async def test_many_agents_share_one_server_and_client(scripted_server) -> None:
    import openai

    shared = openai.AsyncOpenAI(base_url=scripted_server.base_url, api_key="x")
    for _ in range(16):
        scripted_server.reply("ok")
    agents = [Agent(http_client=shared, retry_backoff=0.001) for _ in range(8)]
    turns = await asyncio.gather(
        *(agent.run(tone(0.3), sample_rate=16000) for agent in agents for _ in range(1)),
        *(agents[i].run(text="second") for i in range(8)),
    )
    assert [turn.text for turn in turns] == ["ok"] * 16
    assert all(agent.turns == 2 for agent in agents)
    await shared.close()


async def test_check_server_reports_model_context_and_tool_calling() -> None:
    with ScriptedServer(model="vox", max_model_len=8192) as server:
        agent = Agent(base_url=server.base_url)
        info = await agent.check_server(probe_tools=False)
        assert (info.model, info.max_model_len, info.models) == ("vox", 8192, ("vox",))
        await agent.aclose()
    with ScriptedServer(tool_calling=False) as server:
        agent = Agent(base_url=server.base_url)
        info = await agent.check_server()
        assert info.tool_calling is False
        assert "--enable-auto-tool-choice" in (info.tool_calling_message or "")
        await agent.aclose()


async def test_an_unknown_model_name_is_explained(scripted_server) -> None:
    agent = Agent(base_url=scripted_server.base_url, model="wrong")
    with pytest.raises(InvalidRequestError, match="voxtral-scripted"):
        await agent.run(text="x")
    await agent.aclose()


async def test_transcribe(scripted_server, make_agent) -> None:
    scripted_server.transcribe_as("hello world")
    assert (
        await make_agent().transcribe(tone(0.5), language="en", sample_rate=16000) == "hello world"
    )
    assert scripted_server.transcriptions[0].body["language"] == "en"
    with pytest.raises(InvalidRequestError, match="two-letter"):
        await make_agent().transcribe(tone(0.5), language="english", sample_rate=16000)


def test_run_sync_and_transcribe_sync(scripted_server) -> None:
    # The turns' own transcripts come in the background (issue 8, 1.6), in no fixed order
    # with the next request: they are off here, so the one transcription is transcribe_sync's.
    scripted_server.reply("one").reply("two").transcribe_as("t3")
    agent = Agent(base_url=scripted_server.base_url, transcribe_turns=False)
    assert agent.run_sync(tone(0.2), sample_rate=16000).text == "one"
    assert agent.run_sync(tone(0.2), sample_rate=16000).text == "two"
    assert agent.transcribe_sync(tone(0.2), sample_rate=16000) == "t3"


async def test_run_sync_refuses_inside_a_running_loop(scripted_server) -> None:
    with pytest.raises(RuntimeError, match=r"await agent\.run"):
        Agent(base_url=scripted_server.base_url).run_sync(text="x")


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_call_text_never_reaches_reply_events(scripted_server, make_agent, stream):
    scripted_server.reply('[{"name": "get_weather", "arguments": {"city": "Bern"}}]')
    scripted_server.reply("[Bern] is sunny.")
    texts: list[str] = []
    agent = make_agent(stream=stream)
    turn = await agent.run(
        text="x", on_event=lambda e: texts.append(e.delta) if isinstance(e, ReplyText) else None
    )
    assert turn.tool_results[0].content == "sunny in Bern"
    assert "".join(texts) == "[Bern] is sunny."


async def test_a_turn_serialises_for_jsonl_logs(scripted_server, make_agent) -> None:
    scripted_server.reply_tool_call("get_weather", {"city": "Kyiv"}).reply("Mild.")
    scripted_server.transcribe_as("weather in Kyiv")
    agent = make_agent()
    turn = await agent.run(tone(0.5), sample_rate=16000)
    await agent.wait_for_transcripts()
    line = json.loads(json.dumps(turn.to_dict()))
    assert line["text"] == "Mild." and line["transcript"] == "weather in Kyiv"
    assert line["tool_results"][0]["name"] == "get_weather"
    assert line["usage"]["prompt_tokens"] == turn.usage.prompt_tokens
    assert line["timings"]["total"] >= line["timings"]["model"] > 0


async def test_a_shared_httpx2_client_is_left_open(scripted_server) -> None:
    import httpx2

    scripted_server.reply("a").reply("b")
    async with httpx2.AsyncClient() as http:
        for text in ("a", "b"):
            async with Agent(base_url=scripted_server.base_url, http_client=http) as agent:
                assert (await agent.run(text="x")).text == text
        assert not http.is_closed


async def test_a_slow_server_times_out_and_is_retried(scripted_server, make_agent) -> None:
    from agent import ServerUnavailableError

    scripted_server.reply("late", delay=0.4).reply("late again", delay=0.4)
    agent = make_agent(timeout=0.1, max_retries=1)
    with pytest.raises(ServerUnavailableError, match="timed out after 2 attempts"):
        await agent.run(text="x")
    assert len(scripted_server.requests) == 2
    assert agent.turns == 0


async def test_a_cancelled_turn_leaves_the_history_alone(scripted_server, make_agent) -> None:
    scripted_server.reply("first").hang().reply("after")
    agent = make_agent()
    await agent.run(text="one")
    before = agent.history
    task = asyncio.create_task(agent.run(text="two"))
    while len(scripted_server.requests) < 2:  # the model call is waiting for its answer
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert agent.history == before
    assert (await agent.run(text="three")).text == "after"


async def test_a_turn_cancelled_after_its_tools_ran_keeps_their_results(
    scripted_server, make_agent
) -> None:
    """Issue 8 (1.7): the timer was set, so the next turn's model must know."""
    from agent import ToolCallFinished

    scripted_server.reply("first").reply_tool_call("set_timer", {"minutes": 5})
    scripted_server.hang().reply("after")
    agent = make_agent()
    await agent.run(text="one")
    before = agent.history
    finished = asyncio.Event()

    def on_event(event) -> None:
        if isinstance(event, ToolCallFinished):
            finished.set()

    task = asyncio.create_task(agent.run(text="two", on_event=on_event))
    await finished.wait()
    while len(scripted_server.requests) < 3:  # the second model call is waiting
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    kept = agent.history[len(before) :]
    assert [m["role"] for m in kept] == ["user", "assistant", "tool"]
    assert kept[-1]["content"] == "timer set for 5 min"
    assert agent._history.records[-1].interrupted
    assert (await agent.run(text="three")).text == "after"
    assert scripted_server.requests[-1].tool_messages[-1]["content"] == "timer set for 5 min"


async def test_cancelling_while_a_tool_runs_lets_it_finish_and_keeps_it(
    make_agent, scripted_server
):
    from tools import tool

    release = asyncio.Event()
    started = asyncio.Event()

    @tool
    async def slow_action() -> str:
        """Does something that takes a while."""
        started.set()
        await release.wait()
        return "done"

    scripted_server.reply_tool_call("slow_action").reply("after")
    agent = make_agent(tools=[slow_action])
    task = asyncio.create_task(agent.run(text="go"))
    await started.wait()
    task.cancel()
    await asyncio.sleep(0)  # the cancellation arrives while the tool still runs
    assert not task.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert agent.history[-1] == {
        "role": "tool", "tool_call_id": agent.history[-2]["tool_calls"][0]["id"], "content": "done"
    }  # fmt: skip
    assert (await agent.run(text="next")).text == "after"


def test_the_fixture_fails_a_passing_test_that_left_steps_unused(tmp_path) -> None:
    import subprocess
    import sys

    (tmp_path / "test_user.py").write_text(
        "def test_forgot(scripted_server):\n    scripted_server.reply('never asked')\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout
    assert "never used" in result.stdout


async def test_a_stream_that_ends_early_is_retried(scripted_server, make_agent) -> None:
    scripted_server.cut_stream().reply("complete")
    agent = make_agent(stream=True)
    assert (await agent.run(text="x")).text == "complete"
    assert len(scripted_server.requests) == 2


# --- issue 3's public API, scenario by scenario, as its text states it ----------

INSTRUCTIONS = "You are a helpful desktop assistant..."
FAST = {"retry_backoff": 0.001}


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


async def test_cancelling_while_approval_is_asked_does_not_wait_for_the_answer(
    make_agent, scripted_server
) -> None:
    """Nothing ran yet: the call is recorded as not run, and the cancellation is at once."""
    from tools import tool

    asked = asyncio.Event()
    ran: list[str] = []

    async def approve(name: str, arguments: dict) -> bool:
        asked.set()
        await asyncio.Event().wait()  # the user never answers
        return True

    @tool(requires_approval=True)
    def delete_everything() -> str:
        """Deletes everything."""
        ran.append("deleted")
        return "gone"

    scripted_server.reply_tool_call("delete_everything").reply("after")
    agent = make_agent(tools=Toolbox([delete_everything], approve=approve))
    task = asyncio.create_task(agent.run(text="delete it all"))
    await asyncio.wait_for(asked.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    assert ran == []
    assert agent.history[-1]["role"] == "tool"
    assert agent.history[-1]["content"].startswith("(Not run: the turn was interrupted")
    assert (await agent.run(text="next")).text == "after"
