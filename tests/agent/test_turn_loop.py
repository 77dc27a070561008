"""The turn loop's promises under faults: transcripts never delay, bounds, options, sync use."""

import asyncio
import gc
import time
import warnings

import pytest

from agent import Agent, TurnTimeoutError
from agent.testing import ScriptedServer, tone
from tests.agent.conftest import get_weather, set_timer

# --- the reply never waits for the transcription (issue 8, 1.6) ----------------------------


async def test_a_slow_transcription_does_not_delay_the_turn(scripted_server, make_agent) -> None:
    scripted_server.transcribe_as("what was said", delay=2.0)
    scripted_server.reply("Right away.")
    agent = make_agent()
    began = time.perf_counter()
    turn = await agent.run(tone(0.5), sample_rate=16000)
    waited = time.perf_counter() - began
    assert turn.text == "Right away."
    assert turn.transcript is None  # not yet: it is still on its way
    assert waited < 1.5  # the 2 s transcription is not on the reply's path
    assert turn.timings.total == pytest.approx(waited, abs=0.05)
    await agent.wait_for_transcripts()
    assert turn.transcript == "what was said"
    assert agent._history.records[-1].transcript == "what was said"


async def test_a_hung_transcription_delays_nothing_and_the_audio_stays(
    scripted_server, make_agent
) -> None:
    scripted_server.hang_transcription()
    scripted_server.transcribe_as("second")
    scripted_server.reply("one").reply("two")
    agent = make_agent(max_audio_items=1)
    await agent.run(tone(0.5), sample_rate=16000)
    turn = await agent.run(tone(0.5), sample_rate=16000)
    assert turn.text == "two"
    # The first turn lost its audio (one item per request) and its transcript never came:
    # it is represented by a stand-in that says so.
    second = scripted_server.requests[-1]
    assert second.audio_count == 1
    assert any("no transcript is available" in text for text in second.texts)
    while scripted_server._script._transcription_steps:  # both reached the server
        await asyncio.sleep(0.01)
    await agent.aclose()  # cancels the hung transcription instead of waiting for it


async def test_turn_finished_is_not_delayed_by_the_transcription(scripted_server) -> None:
    import numpy as np

    from agent import TurnFinished
    from agent.audio import Endpointer
    from tests.detectors import LoudIsSpeech

    scripted_server.transcribe_as("hello", delay=3.0)
    scripted_server.reply("Hi.")
    recording = np.concatenate([np.zeros(8000), tone(1.0), np.zeros(16000)]).astype(np.int16)
    finished_at: list[float] = []
    began = time.perf_counter()

    def on_event(event) -> None:
        if isinstance(event, TurnFinished):
            finished_at.append(time.perf_counter() - began)

    async with Agent(base_url=scripted_server.base_url) as agent:
        turns = await agent.replay_async(
            recording, sample_rate=16000, endpointer=Endpointer(detector=LoudIsSpeech()),
            on_event=on_event,
        )  # fmt: skip
        assert [turn.text for turn in turns] == ["Hi."]
        assert finished_at and finished_at[0] < 2.5  # the 3 s transcription came later
        await agent.wait_for_transcripts()
    assert turns[0].transcript == "hello"


# --- one attempt and one turn are bounded (issue 8, 1.4) ----------------------------------


async def test_a_turn_is_bounded_as_a_whole(scripted_server, make_agent) -> None:
    # Each attempt is within its own timeout, but the turn's tools and rounds add up.
    scripted_server.reply_tool_call("get_weather", {"city": "A"}, delay=0.4)
    scripted_server.reply_tool_call("get_weather", {"city": "B"}, delay=0.4)
    scripted_server.hang()
    agent = make_agent(timeout=5.0, turn_timeout=1.0, max_retries=0)
    with pytest.raises(TurnTimeoutError, match="turn_timeout=1"):
        await agent.run(text="weather twice")
    assert isinstance(TurnTimeoutError("x"), TimeoutError)


# --- tool_choice where a newcomer looks for it (issue 8, 2.3) -----------------------------


async def test_the_agents_default_tool_choice_applies_to_each_turn(scripted_server) -> None:
    scripted_server.reply_tool_call("set_timer", {"minutes": 1}).reply("Set.")
    scripted_server.reply("Hello.")
    async with Agent(
        [get_weather, set_timer], base_url=scripted_server.base_url, tool_choice="set_timer"
    ) as agent:
        await agent.run(text="timer")
        await agent.run(text="hi", tool_choice="auto")
    choices = [request.tool_choice for request in scripted_server.requests]
    named = {"type": "function", "function": {"name": "set_timer"}}
    assert choices == [named, "auto", "auto"]


def test_a_bad_default_tool_choice_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="not_a_tool"):
        Agent([get_weather], tool_choice="not_a_tool")
    with pytest.raises(ValueError, match="needs at least one tool"):
        Agent(tool_choice="required")


async def test_replay_and_listen_take_tool_choice(scripted_server) -> None:
    import numpy as np

    from agent.audio import ArraySource, Endpointer
    from tests.detectors import LoudIsSpeech

    recording = np.concatenate([np.zeros(8000), tone(1.0), np.zeros(16000)]).astype(np.int16)
    scripted_server.reply_tool_call("get_weather", {"city": "Oslo"}).reply("Cold.")
    scripted_server.reply_tool_call("get_weather", {"city": "Rome"}).reply("Warm.")
    async with Agent([get_weather, set_timer], base_url=scripted_server.base_url) as agent:
        turns = await agent.replay_async(
            recording, sample_rate=16000, tool_choice="required",
            endpointer=Endpointer(detector=LoudIsSpeech()),
        )  # fmt: skip
        assert [turn.text for turn in turns] == ["Cold."]
        source = ArraySource(recording, 16000)
        events = agent.listen(
            source, tool_choice="get_weather", endpointer=Endpointer(detector=LoudIsSpeech())
        )
        async for _ in events:
            pass
    choices = [request.tool_choice for request in scripted_server.requests]
    named = {"type": "function", "function": {"name": "get_weather"}}
    assert choices == ["required", "auto", named, "auto"]


# --- the sync wrappers share one loop and leak nothing (issue 8, 1.8) ----------------------


def test_run_sync_across_calls_reuses_one_client_and_leaks_nothing(scripted_server) -> None:
    scripted_server.reply("one").reply("two").reply("three")
    scripted_server.transcribe_as("x")
    agent = Agent(base_url=scripted_server.base_url)
    gc.collect()  # what earlier tests left behind is not this test's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert agent.run_sync(text="a").text == "one"
        first = agent._backends.get_nowait()
        assert agent.run_sync(text="b").text == "two"
        assert agent._backends.get_nowait() is first
        assert agent.transcribe_sync(tone(0.5), sample_rate=16000) == "x"
        assert agent.run_sync(text="c").text == "three"
        gc.collect()
    assert not [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_aclose_after_two_asyncio_runs_does_not_raise(scripted_server) -> None:
    scripted_server.reply("one").reply("two")
    agent = Agent(base_url=scripted_server.base_url)
    gc.collect()  # what earlier tests left behind is not this test's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(agent.run(text="a")).text == "one"
        assert asyncio.run(agent.run(text="b")).text == "two"
        asyncio.run(agent.aclose())
        gc.collect()
    assert not [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_run_sync_inside_a_loop_names_the_async_call(scripted_server) -> None:
    agent = Agent(base_url=scripted_server.base_url)

    async def inside() -> None:
        with pytest.raises(RuntimeError, match=r"await agent\.run\(\.\.\.\)"):
            agent.run_sync(text="x")
        with pytest.raises(RuntimeError, match=r"await agent\.replay_async"):
            agent.replay(tone(1.0), sample_rate=16000)

    asyncio.run(inside())


def test_a_server_that_only_replays_is_usable_from_sync_code() -> None:
    server = ScriptedServer().start()
    try:
        server.reply("ok")
        assert Agent(base_url=server.base_url).run_sync(text="x").text == "ok"
    finally:
        server.stop()
