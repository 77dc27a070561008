"""The Agent against a real vLLM server (the tiny CPU one in CI, or Voxtral on a GPU).

The tiny model only calls tools when `tool_choice` is "required" or names a tool, and answers
"auto" with empty content; the assertions hold for a real Voxtral too.
"""

import pytest

from agent import Agent, ReplyText, ToolCallFinished, ToolCallStarted
from agent.testing import tone

from .conftest import get_weather, needs_vllm, set_timer

pytestmark = [needs_vllm, pytest.mark.vllm]


INSTRUCTIONS = "You are a desktop voice assistant. Use the tools when they help. Be brief."


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_audio_with_a_required_tool_call(base_url: str, stream: bool) -> None:
    events: list[object] = []
    async with Agent(
        [get_weather, set_timer], base_url=base_url, instructions=INSTRUCTIONS, stream=stream
    ) as agent:
        turn = await agent.run(
            tone(1.5), tool_choice="required", on_event=events.append, sample_rate=16000
        )
        assert turn.tool_results, "tool_choice=required must give a tool call"
        assert turn.tool_results[0].name in ("get_weather", "set_timer")
        assert turn.tool_results[0].ok, turn.tool_results[0].error
        assert turn.rounds >= 2, "the follow-up request with the tool result must be accepted"
        assert turn.usage.prompt_tokens >= 376
        assert any(isinstance(event, ToolCallStarted) for event in events)
        assert any(isinstance(event, ToolCallFinished) for event in events)
        # Text a round with tool calls may carry comes first; the final reply ends it.
        assert "".join(e.delta for e in events if isinstance(e, ReplyText)).endswith(turn.text)
        history = agent.history
        assert history[0] == {"role": "user", "content": INSTRUCTIONS}
        assert all(message["role"] != "system" for message in history)


async def test_seven_audio_turns_in_one_conversation(base_url: str) -> None:
    async with Agent([get_weather, set_timer], base_url=base_url, instructions=INSTRUCTIONS) as a:
        for index in range(7):
            choice = "required" if index % 2 == 0 else "auto"
            turn = await a.run(
                tone(1.0, frequency=300 + 50 * index), tool_choice=choice, sample_rate=16000
            )
            assert turn.index == index
            if choice == "required":
                assert turn.tool_results
        assert a.turns == 7
        audio_items = sum(
            1
            for message in a.history
            if isinstance(message["content"], list)
            for part in message["content"]
            if part["type"] == "input_audio"
        )
        assert audio_items <= 5


async def test_a_named_tool_and_text_turns(base_url: str) -> None:
    async with Agent([get_weather, set_timer], base_url=base_url) as agent:
        turn = await agent.run(text="Set a timer.", tool_choice="set_timer")
        assert [result.name for result in turn.tool_results][:1] == ["set_timer"]
        follow_up = await agent.run(text="Thanks.")
        assert isinstance(follow_up.text, str)


async def test_several_clips_in_one_turn(base_url: str) -> None:
    async with Agent(base_url=base_url, transcribe_turns=False) as agent:
        turn = await agent.run(
            [tone(0.5), tone(0.8, frequency=660)], text="Which is longer?", sample_rate=16000
        )
        assert turn.rounds == 1 and turn.audio_seconds == pytest.approx(1.3)


async def test_transcription(base_url: str) -> None:
    async with Agent(base_url=base_url) as agent:
        text = await agent.transcribe(tone(1.0), language="en", sample_rate=16000)
        assert isinstance(text, str)
        turn = await agent.run(tone(1.0), sample_rate=16000)
        await agent.wait_for_transcripts()  # made beside the turn (issue 8, 1.6)
        assert turn.transcript is not None


async def test_check_server(base_url: str) -> None:
    async with Agent(base_url=base_url) as agent:
        info = await agent.check_server()
        assert info.model in info.models
        assert info.max_model_len is not None and info.max_model_len >= 1024
        assert info.tool_calling is True


async def test_long_turns_are_trimmed_to_the_context(base_url: str) -> None:
    async with Agent(base_url=base_url) as probe:
        server_len = (await probe.check_server(probe_tools=False)).max_model_len
    assert server_len is not None
    # At most 4096 (the tiny server's own limit), so the test trims on a 32k server too.
    context = min(server_len, 4096)
    async with Agent(base_url=base_url, transcribe_turns=False, max_model_len=context) as agent:
        # 40 s clips cost 752 tokens each: five of them overflow 4096 minus the reply reserve.
        for _ in range(6):
            turn = await agent.run(tone(40.0, level=0.01), sample_rate=16000)
            assert turn.usage.prompt_tokens <= context
        kept = [m for m in agent.history if m["role"] == "user"]
        assert len(kept) < 6, "older turns must have been dropped to fit the context"


async def test_a_refused_request_carries_the_servers_message(base_url: str) -> None:
    from agent import RequestRejectedError, VoxtralClient
    from agent.clips import load_clip

    client = VoxtralClient(base_url, retry_backoff=0.01)
    model = (await client.server_info()).model
    data = load_clip(tone(0.5), sample_rate=16000).base64()
    audio = {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}
    with pytest.raises(RequestRejectedError) as caught:
        await client.chat(
            model=model,
            messages=[{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": [audio]}],
        )  # fmt: skip
    assert caught.value.status_code == 400
    assert "system" in caught.value.server_message
    await client.aclose()
