import asyncio
import json

import numpy as np
import pytest

from agent import (
    Agent,
    BadAudioError,
    InvalidRequestError,
    ReplyText,
    ToolCallFinished,
    ToolCallStarted,
)
from agent.testing import ScriptedCall, ScriptedServer, tone
from tools import ToolContext, tool


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
