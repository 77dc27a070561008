import json

from agent._tool_calls import (
    TOOL_CALL_ID,
    UNPARSED_TOOL_NAME,
    ensure_valid_ids,
    may_become_tool_calls,
    new_call_id,
    recover_tool_calls,
    split_tool_calls,
)
from agent.client import ToolCall


def test_new_ids_are_nine_alphanumerics() -> None:
    ids = {new_call_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(TOOL_CALL_ID.match(call_id) for call_id in ids)


def test_a_leftover_call_list_is_recovered_with_valid_ids() -> None:
    text = (
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}, '
        '{"name": "set_timer", "arguments": {"minutes": 5}}]'
    )
    calls = recover_tool_calls(text)
    assert calls is not None
    assert [call.name for call in calls] == ["get_weather", "set_timer"]
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    assert all(TOOL_CALL_ID.match(call.id) for call in calls)


def test_a_call_list_without_the_marker_is_recovered() -> None:
    calls = recover_tool_calls('[{"name": "stop", "arguments": {}}]')
    assert calls is not None and calls[0].name == "stop"


def test_a_broken_call_list_becomes_a_call_the_toolbox_will_refuse() -> None:
    calls = recover_tool_calls('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": ')
    assert calls is not None and len(calls) == 1
    assert calls[0].name == "get_weather"
    assert not _is_json(calls[0].arguments)
    nameless = recover_tool_calls("[TOOL_CALLS]garbage")
    assert nameless is not None and nameless[0].name == UNPARSED_TOOL_NAME


def test_ordinary_text_is_left_alone() -> None:
    assert recover_tool_calls("It is sunny in Paris.") is None
    assert recover_tool_calls("[laughs] sure") is None


def test_server_ids_are_kept_and_only_bad_ones_replaced() -> None:
    good = ToolCall("Qx7Kp2LmZ", "a", "{}")
    bad = ToolCall("call_1", "b", "{}")
    duplicate = ToolCall("Qx7Kp2LmZ", "c", "{}")
    fixed = ensure_valid_ids([good, bad, duplicate])
    assert fixed[0] == good
    assert TOOL_CALL_ID.match(fixed[1].id) and fixed[1].id != "call_1"
    assert fixed[2].id != good.id


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_text_before_the_marker_is_kept_as_the_reply() -> None:
    text, calls = split_tool_calls(
        'Let me check. [TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Oslo"}}]'
    )
    assert text == "Let me check."
    assert calls is not None and json.loads(calls[0].arguments) == {"city": "Oslo"}
    assert split_tool_calls("Just words.") == ("Just words.", None)


def test_which_text_may_still_become_a_call_list() -> None:
    for prefix in ("[", "[TOOL", "[TOOL_CALLS][{", '[ { "na', '[{"name": "x"'):
        assert may_become_tool_calls(prefix), prefix
    for prefix in ("[laughs]", "[1, 2]", '[{"city"', "[TOOLS"):
        assert not may_become_tool_calls(prefix), prefix
