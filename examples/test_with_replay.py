"""Testing your own agent without a GPU: replay recordings against a scripted server.

`scripted_server` (a pytest fixture that comes with voxtral-agent) is a real HTTP server on
127.0.0.1 that speaks vLLM's API and checks every request against Voxtral's rules; you script
what the "model" answers, replay a WAV file through your agent, and assert on what your tools
did. Run it with `pytest examples/test_with_replay.py`.
"""

from __future__ import annotations

from pathlib import Path

from agent import Agent
from agent.testing import RecordedRequest, ScriptedServer
from tools import tool

AUDIO = Path(__file__).with_name("audio")

switched: list[tuple[str, bool]] = []


@tool
def set_light(room: str, on: bool) -> str:
    """Switch the light of a room on or off."""
    switched.append((room, on))
    return f"The {room} light is {'on' if on else 'off'}."


def sends_audio(request: RecordedRequest) -> None:
    """A scripted step can check the request it answers."""
    parts = request.body["messages"][-1]["content"]
    assert any(part["type"] == "input_audio" for part in parts)


def test_the_kitchen_light_goes_on(scripted_server: ScriptedServer) -> None:
    switched.clear()
    scripted_server.transcribe_as("Turn on the lights in the kitchen.")
    scripted_server.reply_tool_call(
        "set_light", {"room": "kitchen", "on": True}, expect=sends_audio
    )
    scripted_server.reply("The kitchen light is on.")
    agent = Agent([set_light], base_url=scripted_server.base_url)

    turns = agent.replay(AUDIO / "kitchen_lights.wav")
    agent.wait_for_transcripts_sync()  # transcripts come beside the turns, never delaying them

    assert switched == [("kitchen", True)]
    (turn,) = turns
    assert turn.text == "The kitchen light is on."
    assert turn.transcript == "Turn on the lights in the kitchen."
    assert turn.tool_results[0].ok


def test_a_bad_tool_call_is_answered_not_crashed(scripted_server: ScriptedServer) -> None:
    switched.clear()
    scripted_server.reply_tool_call("set_light", {"room": "kitchen"})  # "on" is missing
    scripted_server.reply("Sorry, should the light go on or off?")
    agent = Agent([set_light], base_url=scripted_server.base_url)

    (turn,) = agent.replay(AUDIO / "kitchen_lights.wav")

    assert switched == []
    assert turn.tool_results[0].error_kind == "invalid_arguments"
    tool_message = scripted_server.requests[-1].body["messages"][-1]
    assert tool_message["role"] == "tool" and "on" in tool_message["content"]


def test_several_recordings_are_one_conversation(scripted_server: ScriptedServer) -> None:
    scripted_server.reply("It is 9 pm in Tokyo.").reply("Timer set.")
    agent = Agent([set_light], base_url=scripted_server.base_url)

    first = agent.replay(AUDIO / "what_time.wav")
    second = agent.replay(AUDIO / "timer.wav")

    assert [turn.text for turn in first + second] == ["It is 9 pm in Tokyo.", "Timer set."]
    assert len(scripted_server.requests[-1].body["messages"]) > 2  # the history went along
