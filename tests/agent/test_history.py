import pytest

from agent._rules import check_chat_request, count_audio_items
from agent.clips import load_clip
from agent.errors import InvalidRequestError
from agent.history import History, TurnRecord
from agent.testing import tone


def _turn(index: int, seconds: float = 1.0, *, transcript: str | None = None) -> TurnRecord:
    """A finished turn: audio, then the assistant's answer."""
    record = _current(index, seconds)
    if transcript is not None:
        record.transcripts = [transcript]
    record.replies.append({"role": "assistant", "content": f"answer {index}"})
    return record


def _current(index: int, seconds: float = 1.0) -> TurnRecord:
    """The turn in progress: audio, no answer yet."""
    return TurnRecord(index=index, clips=[load_clip(tone(seconds), sample_rate=16000)])


def test_instructions_are_user_text_first_never_a_system_message() -> None:
    history = History("Be brief.")
    messages = history.render(_current(0))
    assert messages[0] == {"role": "user", "content": "Be brief."}
    assert all(message["role"] != "system" for message in messages)
    check_chat_request(messages)


def test_only_the_newest_turns_keep_audio() -> None:
    history = History(max_audio_items=5)
    for index in range(7):
        history.commit(_turn(index, transcript=f"words {index}"))
    messages = history.render(_current(7))
    assert count_audio_items(messages) == 5
    user_messages = [m for m in messages if m["role"] == "user"]
    # The three oldest turns are text, their transcripts standing in for the audio.
    assert [isinstance(m["content"], str) for m in user_messages] == [True] * 3 + [False] * 5
    assert "words 0" in user_messages[0]["content"]
    check_chat_request(messages)


def test_max_audio_items_can_go_down_to_one() -> None:
    history = History(max_audio_items=1)
    history.commit(_turn(0))
    messages = history.render(_current(1))
    assert count_audio_items(messages) == 1
    assert "no transcript" in messages[0]["content"]
    with pytest.raises(ValueError, match="between 1 and 5"):
        History(max_audio_items=6)


def test_a_multi_clip_turn_keeps_all_its_audio_or_none() -> None:
    history = History(max_audio_items=5)
    old = TurnRecord(index=0, clips=[load_clip(tone(0.2), sample_rate=16000) for _ in range(3)])
    history.commit(old)
    current = TurnRecord(index=1, clips=[load_clip(tone(0.2), sample_rate=16000) for _ in range(3)])
    messages = history.render(current)
    assert count_audio_items(messages) == 3
    assert isinstance(messages[0]["content"], str)


def test_current_turn_with_too_many_clips_is_refused() -> None:
    history = History(max_audio_items=2)
    with pytest.raises(InvalidRequestError, match="max_audio_items"):
        history.render(TurnRecord(index=0, clips=[load_clip(tone(0.1), sample_rate=16000)] * 3))


def test_oldest_whole_turns_are_trimmed_to_the_budget() -> None:
    history = History()
    for index in range(4):
        record = _turn(index)
        record.replies = [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"abcdefgh{index}",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": f"abcdefgh{index}", "content": "x" * 300},
        ]
        history.commit(record)
    full = history.render(_current(4))
    trimmed = history.render(_current(4), token_budget=376 * 3 + 200)
    assert len(trimmed) < len(full)
    # Whole turns go: every tool message still follows its assistant call.
    assert trimmed[0]["role"] == "user"
    check_chat_request(trimmed)
    assert trimmed[-1]["content"][0]["type"] == "input_audio"


def test_a_turn_that_alone_exceeds_the_budget_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="max-model-len"):
        History().render(_current(0, seconds=40.0), token_budget=500)


def test_text_only_turns_render_as_plain_user_text() -> None:
    history = History()
    record = TurnRecord(index=0, text="hello")
    assert history.render(record) == [{"role": "user", "content": "hello"}]


def test_the_audio_message_is_built_once() -> None:
    record = _current(0)
    assert record.user_message(with_audio=True) is record.user_message(with_audio=True)
    part = record.user_message(with_audio=True)["content"][0]
    assert part["type"] == "input_audio"
    assert part["input_audio"]["format"] == "wav"
