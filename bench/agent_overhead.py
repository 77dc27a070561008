"""What the Agent adds to a turn, measured against bare `AsyncOpenAI` requests, side by side.

One turn = the same 5 s utterance sent to the ScriptedServer on loopback, a tool call back, a
trivial tool run, a second request with the result, a text reply: two round trips. The bare
baseline does exactly that with hand-written dicts (audio encoded once, up front); the Agent
does it with everything it adds (clip conversion and WAV/base64 encoding, history rendering,
mistral-common validation, reply parsing, toolbox dispatch, events). The two alternate turn by
turn so both see the same machine load. Then N agents (and N bare clients) run concurrently to
show the cost per turn stays flat.

    .venv/bin/python bench/agent_overhead.py [--turns 200] [--concurrency 1,8,64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import openai

from agent import Agent
from agent.clips import load_clip
from agent.testing import RecordedRequest, ScriptedCall, ScriptedServer, Step, tone
from tools import tool

UTTERANCE_SECONDS = 5.0


@tool
def get_time(city: str) -> str:
    """The time in a city.

    Args:
        city: the city
    """
    return f"12:00 in {city}"


TOOLS = get_time.schema


def _respond(request: RecordedRequest) -> Step:
    """A tool call for a fresh question, a short text once the tool result is back."""
    if request.messages[-1]["role"] == "tool":
        return Step(content="It is noon.")
    return Step(tool_calls=(ScriptedCall("get_time", {"city": "Paris"}),))


async def bare_turn(client: openai.AsyncOpenAI, model: str, user_message: dict[str, Any]) -> None:
    """The baseline: the same two requests with no framework at all."""
    create: Any = client.chat.completions.create
    messages: list[dict[str, Any]] = [user_message]
    first = await create(model=model, messages=messages, tools=[TOOLS], tool_choice="auto")
    call = first.choices[0].message.tool_calls[0]
    result = get_time(**json.loads(call.function.arguments))
    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": result},
    ]
    await create(model=model, messages=messages, tools=[TOOLS], tool_choice="auto")


async def agent_turn(agent: Agent, pcm: Any) -> None:
    """The Agent's turn; the history is reset so every request carries the same data."""
    turn = await agent.run(pcm, sample_rate=16000)
    assert turn.text == "It is noon." and turn.tool_results[0].ok, turn
    agent.reset()


async def paired(server: ScriptedServer, turns: int) -> tuple[list[float], list[float]]:
    pcm = tone(UTTERANCE_SECONDS)
    user_message = {
        "role": "user",
        "content": [
            {
                "type": "input_audio",
                "input_audio": {
                    "data": load_clip(pcm, sample_rate=16000).base64(),
                    "format": "wav",
                },
            }
        ],
    }
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="EMPTY", max_retries=0)
    agent = Agent([get_time], base_url=server.base_url, transcribe_turns=False)
    bare_times: list[float] = []
    agent_times: list[float] = []
    for _ in range(10):  # warm up connections and caches
        await bare_turn(client, server.model, user_message)
        await agent_turn(agent, pcm)
    for _ in range(turns):
        started = time.perf_counter()
        await bare_turn(client, server.model, user_message)
        bare_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        await agent_turn(agent, pcm)
        agent_times.append(time.perf_counter() - started)
    await agent.aclose()
    await client.close()
    return bare_times, agent_times


async def concurrent(server: ScriptedServer, agents: int, turns_each: int) -> tuple[float, float]:
    """Seconds per turn (wall time / turns) for `agents` bare clients, then agents."""
    pcm = tone(UTTERANCE_SECONDS)
    user_message = {
        "role": "user",
        "content": [
            {
                "type": "input_audio",
                "input_audio": {
                    "data": load_clip(pcm, sample_rate=16000).base64(),
                    "format": "wav",
                },
            }
        ],
    }
    shared = openai.AsyncOpenAI(base_url=server.base_url, api_key="EMPTY", max_retries=0)

    async def bare_loop() -> None:
        for _ in range(turns_each):
            await bare_turn(shared, server.model, user_message)

    crowd = [
        Agent([get_time], http_client=shared, model=server.model, max_model_len=32768,
              transcribe_turns=False)
        for _ in range(agents)
    ]  # fmt: skip

    async def agent_loop(agent: Agent) -> None:
        for _ in range(turns_each):
            await agent_turn(agent, pcm)

    await asyncio.gather(*(bare_loop() for _ in range(agents)))  # warm-up
    started = time.perf_counter()
    await asyncio.gather(*(bare_loop() for _ in range(agents)))
    bare = (time.perf_counter() - started) / (agents * turns_each)
    started = time.perf_counter()
    await asyncio.gather(*(agent_loop(agent) for agent in crowd))
    framework = (time.perf_counter() - started) / (agents * turns_each)
    await shared.close()
    return bare, framework


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=200, help="paired turns for the median")
    parser.add_argument("--concurrency", default="1,8,64", help="agent counts to run at once")
    parser.add_argument("--turns-each", type=int, default=5, help="turns per concurrent agent")
    options = parser.parse_args()
    with ScriptedServer(responder=_respond) as server:
        bare, framework = asyncio.run(paired(server, options.turns))
        bare_ms = statistics.median(bare) * 1e3
        agent_ms = statistics.median(framework) * 1e3
        added = agent_ms - bare_ms
        print(f"one {UTTERANCE_SECONDS:.0f} s utterance, one tool call, 2 round trips per turn")
        print(f"  bare AsyncOpenAI turn : median {bare_ms:7.2f} ms over {options.turns} turns")
        print(f"  Agent.run turn        : median {agent_ms:7.2f} ms")
        print(
            f"  added by the Agent    : {added:7.2f} ms per turn = {added / 2:.2f} ms per round "
            f"trip (ratio {agent_ms / bare_ms:.2f}x; target < 5 ms per round trip)"
        )
        print("concurrent agents (wall time / turns):")
        for count in (int(item) for item in options.concurrency.split(",")):
            bare_turn_s, agent_turn_s = asyncio.run(concurrent(server, count, options.turns_each))
            print(
                f"  N={count:3d}: bare {bare_turn_s * 1e3:7.2f} ms/turn, Agent "
                f"{agent_turn_s * 1e3:7.2f} ms/turn, ratio {agent_turn_s / bare_turn_s:.2f}x"
            )


if __name__ == "__main__":
    main()
