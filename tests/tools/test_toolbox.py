"""`Toolbox`: the collection, and `call`/`call_many` with every success and failure path."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
import logging
import threading
import time
from typing import Any

import pytest
from openai.types.chat import ChatCompletionMessageToolCall
from pydantic import BaseModel, field_validator

from tests.tools import samples
from tests.tools.helpers import WAIT, Rendezvous, assert_failed
from tools import DONE, Tool, Toolbox, ToolContext, ToolError, ToolResult, ToolRetry, tool


@tool
def get_weather(city: str, unit: str = "celsius") -> dict[str, Any]:
    """Get the weather."""
    return {"city": city, "unit": unit}


@tool(requires_approval=True)
def delete_note(note_id: int) -> str:
    """Delete a note."""
    return f"deleted {note_id}"


@tool
async def add(a: int, b: int) -> int:
    """Add two numbers."""
    await asyncio.sleep(0)
    return a + b


def _returning(value: Any) -> Any:
    def give() -> Any:
        return value

    return give


class TestCollection:
    def test_schemas_names_and_container_protocol(self) -> None:
        box = Toolbox([get_weather, add])
        assert box.schemas() == [get_weather.schema, add.schema]
        assert box.names == ["get_weather", "add"]
        assert "add" in box and add in box and "nope" not in box
        assert len(box) == 2
        assert list(box) == [get_weather, add]
        assert box.get("add") is add and box.get("nope") is None
        assert box["get_weather"] is get_weather

    def test_plain_functions_and_nested_toolboxes(self) -> None:
        def shout(text: str) -> str:
            """Shout."""
            return text.upper()

        inner = Toolbox([add])
        box = Toolbox([inner, shout])
        assert box.names == ["add", "shout"]
        assert isinstance(box.get("shout"), Tool)

    def test_add_returns_the_tool_and_works_as_decorator(self) -> None:
        box = Toolbox()

        @box.add
        def ping() -> str:
            return "pong"

        assert isinstance(ping, Tool)
        assert box.names == ["ping"]
        assert box.add(get_weather) is get_weather

    def test_duplicate_names(self) -> None:
        clash = tool(name="get_weather")(lambda: None)
        with pytest.raises(ValueError, match="duplicate tool name 'get_weather'"):
            Toolbox([get_weather, clash])
        box = Toolbox([get_weather])
        with pytest.raises(ValueError, match="duplicate"):
            box.add(clash)

    @pytest.mark.parametrize(
        "options", [{"default_timeout": 0}, {"default_timeout": -1}, {"max_result_chars": 0}]
    )
    def test_bad_settings(self, options: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            Toolbox([], **options)


class TestSuccess:
    async def test_json_arguments(self) -> None:
        box = Toolbox([get_weather])
        result = await box.call("get_weather", '{"city": "Paris"}', call_id="Qx7Kp2LmZ")
        assert result.ok and result.error is None and result.error_kind is None
        assert result.value == {"city": "Paris", "unit": "celsius"}
        assert json.loads(result.content) == result.value
        assert result.content == '{"city":"Paris","unit":"celsius"}'  # compact
        assert result.name == "get_weather"
        assert result.arguments == {"city": "Paris"}
        assert result.call_id == "Qx7Kp2LmZ"
        assert 0 < result.duration < 60

    async def test_dict_arguments_and_lax_coercion(self) -> None:
        result = await Toolbox([add]).call("add", {"a": "2", "b": 3})
        assert (result.ok, result.value, result.content) == (True, 5, "5")
        assert result.arguments == {"a": "2", "b": 3}

    @pytest.mark.parametrize("arguments", [None, "", "  ", "{}", {}])
    async def test_no_arguments(self, arguments: Any) -> None:
        @tool
        def now() -> str:
            return "noon"

        result = await Toolbox([now]).call("now", arguments)
        assert result.ok and result.content == "noon"
        assert (await Toolbox([now]).call("now")).content == "noon"

    async def test_null_for_a_defaulted_argument_means_the_default(self) -> None:
        @tool
        def forecast(city: str, days: int = 3, note: str | None = "x") -> str:
            return f"{city} {days} {note}"

        box = Toolbox([forecast])
        result = await box.call("forecast", '{"city": "Oslo", "days": null, "note": null}')
        assert result.content == "Oslo 3 None"  # `note` accepts None, so None it is
        assert result.arguments == {"city": "Oslo", "days": None, "note": None}
        required = await box.call("forecast", '{"city": null}')
        assert "city: input should be a valid string" in required.content

    async def test_arguments_encoded_twice(self) -> None:
        double = json.dumps(json.dumps({"a": 1, "b": 2}))
        assert (await Toolbox([add]).call("add", double)).value == 3

    async def test_return_values_become_text(self) -> None:
        class Forecast(BaseModel):
            city: str
            rain: bool

        @dataclasses.dataclass
        class Reading:
            value: float

        returns: dict[str, Any] = {
            "text": "plain text",
            "none": None,
            "model": Forecast(city="Oslo", rain=True),
            "dataclass": Reading(1.5),
            "listing": [1, "two", None],
            "number": 2.5,
            "flag": False,
            "unicode": {"city": "Zürich"},
        }
        box = Toolbox([tool(name=key)(_returning(value)) for key, value in returns.items()])
        contents = {key: (await box.call(key, None)).content for key in returns}
        assert contents == {
            "text": "plain text",
            "none": DONE,
            "model": '{"city":"Oslo","rain":true}',
            "dataclass": '{"value":1.5}',
            "listing": '[1,"two",null]',
            "number": "2.5",
            "flag": "false",
            "unicode": '{"city":"Zürich"}',
        }
        model_result = await box.call("model", None)
        assert model_result.value == Forecast(city="Oslo", rain=True)

    async def test_long_results_are_cut_with_a_marker(self) -> None:
        box = Toolbox([tool(name="big")(lambda: "x" * 10_000)], max_result_chars=200)
        result = await box.call("big", None)
        assert result.ok and result.value == "x" * 10_000
        assert len(result.content) <= 200
        assert result.content.startswith("x" * 100)
        dropped = 10_000 - result.content.count("x")
        assert result.content.endswith(f"... [truncated {dropped} chars]")

    async def test_short_results_are_not_cut(self) -> None:
        box = Toolbox([tool(name="exact")(lambda: "y" * 50)], max_result_chars=50)
        assert (await box.call("exact", None)).content == "y" * 50

    async def test_sync_tools_run_in_a_thread_async_on_the_loop(self) -> None:
        @tool
        def sync_thread() -> int:
            return threading.get_ident()

        @tool
        async def async_thread() -> int:
            return threading.get_ident()

        box = Toolbox([sync_thread, async_thread])
        assert (await box.call("sync_thread", None)).value != threading.get_ident()
        assert (await box.call("async_thread", None)).value == threading.get_ident()

    async def test_a_slow_sync_tool_does_not_block_the_loop(self) -> None:
        loop_ran = threading.Event()

        @tool(timeout=2 * WAIT)
        def slow() -> str:
            return "ok" if loop_ran.wait(WAIT) else "the loop was blocked"

        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1
                if ticks >= 10:
                    loop_ran.set()

        ticking = asyncio.create_task(ticker())
        result = await Toolbox([slow]).call("slow", None)
        ticking.cancel()
        assert result.ok and result.content == "ok"
        assert ticks >= 10

    async def test_context_variables_reach_sync_tools(self) -> None:
        request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
        request_id.set("r-42")

        @tool
        def which_request() -> str:
            return request_id.get()

        assert (await Toolbox([which_request]).call("which_request", None)).content == "r-42"

    def test_call_sync(self) -> None:
        result = Toolbox([add]).call_sync("add", '{"a": 1, "b": 2}', call_id="abcdefghi")
        assert result.ok and result.value == 3 and result.call_id == "abcdefghi"

    async def test_call_sync_inside_a_running_loop_says_to_await(self) -> None:
        with pytest.raises(RuntimeError, match=r"await box\.call"):
            Toolbox([add]).call_sync("add", '{"a": 1, "b": 2}')


class TestContext:
    async def test_context_carries_call_and_state(self) -> None:
        seen: list[ToolContext[Any]] = []

        @tool
        def remember(key: str, ctx: ToolContext[dict[str, str]]) -> str:
            seen.append(ctx)
            ctx.state[key] = "yes"
            return "ok"

        box_state: dict[str, str] = {}
        box = Toolbox([remember], state=box_state)
        await box.call("remember", '{"key": "a"}', call_id="Qx7Kp2LmZ")
        other_state: dict[str, str] = {}
        await box.call("remember", {"key": "b"}, state=other_state)
        assert box_state == {"a": "yes"} and other_state == {"b": "yes"}
        first = seen[0]
        assert (first.call_id, first.tool_name, first.arguments) == (
            "Qx7Kp2LmZ",
            "remember",
            {"key": "a"},
        )

    async def test_async_tool_gets_context(self) -> None:
        @tool
        async def whoami(ctx: ToolContext[str]) -> str:
            return f"{ctx.tool_name} for {ctx.state}"

        result = await Toolbox([whoami], state="ada").call("whoami", None)
        assert result.content == "whoami for ada"

    async def test_model_cannot_fill_the_context(self) -> None:
        @tool
        def secret(ctx: ToolContext[None]) -> str:
            return "ran"

        result = await Toolbox([secret]).call("secret", {"ctx": "forged"})
        assert not result.ok and result.error_kind == "invalid_arguments"
        assert "ctx: unexpected argument" in result.content


def _fails(result: ToolResult, kind: str) -> None:
    assert not result.ok
    assert result.value is None
    assert result.error_kind == kind
    assert result.error == result.content
    assert "Traceback" not in result.content


class TestFailures:
    async def test_unknown_tool_lists_the_available_ones(self) -> None:
        result = await Toolbox([get_weather, add]).call("get_wether", "{}", call_id="Qx7Kp2LmZ")
        _fails(result, "unknown_tool")
        assert result.content == "Unknown tool 'get_wether'. Available tools: get_weather, add."
        assert (result.name, result.call_id) == ("get_wether", "Qx7Kp2LmZ")
        assert result.arguments == {}
        typo = await Toolbox([add]).call("ad", '{"a": 1}')
        assert typo.arguments == {"a": 1}  # kept for the transcript
        assert typo.content == "Unknown tool 'ad'. Available tools: add."

    @pytest.mark.parametrize("spelling", ["Get_Weather", "GET-WEATHER", " get_weather "])
    async def test_a_near_miss_of_case_or_separator_finds_the_tool(self, spelling: str) -> None:
        result = await Toolbox([get_weather, add]).call(spelling, {"city": "Oslo"})
        assert result.ok, result.content
        assert result.name == "get_weather"

    async def test_an_ambiguous_near_miss_is_unknown(self) -> None:
        @tool(name="Get_Weather")
        def shouting_weather(city: str) -> str:
            return city

        box = Toolbox([get_weather, shouting_weather])
        _fails(await box.call("get-weather", {"city": "Oslo"}), "unknown_tool")
        assert (await box.call("Get_Weather", {"city": "Oslo"})).value == "Oslo"  # exact wins

    async def test_arguments_not_json(self) -> None:
        result = await Toolbox([get_weather]).call("get_weather", '{"city": "Paris"')
        _fails(result, "invalid_arguments")
        assert "not valid JSON" in result.content
        assert result.arguments == {}

    @pytest.mark.parametrize(
        ("text", "kind"), [("[1, 2]", "an array"), ('"Paris"', "a string"), ("3", "a number")]
    )
    async def test_arguments_not_an_object(self, text: str, kind: str) -> None:
        result = await Toolbox([get_weather]).call("get_weather", text)
        _fails(result, "invalid_arguments")
        assert f"expected a JSON object, got {kind}" in result.content
        assert result.arguments == {}

    async def test_validation_names_the_field_and_the_expectation(self) -> None:
        result = await Toolbox([add]).call("add", {"a": "two"})
        _fails(result, "invalid_arguments")
        assert result.content.startswith("Invalid arguments for add: ")
        assert "a: input should be a valid integer" in result.content
        assert "got 'two'" in result.content
        assert "b: missing (required)" in result.content
        assert result.arguments == {"a": "two"}

    async def test_validation_of_nested_fields(self) -> None:
        class Item(BaseModel):
            name: str
            quantity: int

        @tool
        def order(items: list[Item]) -> None: ...

        result = await Toolbox([order]).call("order", {"items": [{"name": "tea", "quantity": "x"}]})
        _fails(result, "invalid_arguments")
        assert "items[0].quantity: input should be a valid integer" in result.content

    async def test_custom_validator_raising_anything(self) -> None:
        class Strange(BaseModel):
            value: int

            @field_validator("value")
            @classmethod
            def explode(cls, value: int) -> int:
                raise LookupError("validator bug")

        @tool
        def strange(item: Strange) -> None: ...

        result = await Toolbox([strange]).call("strange", {"item": {"value": 1}})
        _fails(result, "invalid_arguments")
        assert "LookupError: validator bug" in result.content

    async def test_absurdly_nested_json(self) -> None:
        result = await Toolbox([get_weather]).call("get_weather", "[" * 100_000 + "]" * 100_000)
        _fails(result, "invalid_arguments")

    async def test_unexpected_argument(self) -> None:
        result = await Toolbox([get_weather]).call("get_weather", {"city": "Rome", "units": "c"})
        _fails(result, "invalid_arguments")
        assert "units: unexpected argument" in result.content

    async def test_tool_raising(self, caplog: pytest.LogCaptureFixture) -> None:
        @tool
        def explode(city: str) -> None:
            raise ValueError(f"no such city {city!r}")

        with caplog.at_level(logging.WARNING, logger="tools"):
            result = await Toolbox([explode]).call("explode", {"city": "Atlantis"})
        _fails(result, "exception")
        assert result.content == "explode failed: ValueError: no such city 'Atlantis'"
        assert result.arguments == {"city": "Atlantis"}
        assert any(record.exc_info for record in caplog.records)  # the traceback is logged

    async def test_async_tool_raising_without_message(self) -> None:
        @tool
        async def broken() -> None:
            raise KeyError

        result = await Toolbox([broken]).call("broken", None)
        _fails(result, "exception")
        assert result.content == "broken failed: KeyError"

    async def test_tool_calling_sys_exit_does_not_end_the_agent(self) -> None:
        @tool
        def quitter() -> None:
            raise SystemExit(3)

        _fails(await Toolbox([quitter]).call("quitter", None), "exception")

    @pytest.mark.parametrize("error_type", [KeyboardInterrupt, GeneratorExit])
    async def test_a_base_exception_in_a_sync_tool_is_a_failure(
        self, error_type: type[BaseException], caplog: pytest.LogCaptureFixture
    ) -> None:
        @tool
        def rude() -> None:
            raise error_type("stop")

        with caplog.at_level(logging.WARNING, logger="tools"):
            result = await Toolbox([rude]).call("rude", None)
        _fails(result, "exception")
        assert result.content == f"rude failed: {error_type.__name__}: stop"
        assert [type(r.exc_info[1]) for r in caplog.records if r.exc_info] == [error_type]

    @pytest.mark.parametrize("error_type", [ToolError, ToolRetry])
    async def test_tool_error_sends_just_the_message(self, error_type: type[ToolError]) -> None:
        @tool
        def picky(city: str) -> None:
            raise error_type(f"I only know Paris, not {city}.")

        result = await Toolbox([picky]).call("picky", {"city": "Lyon"})
        _fails(result, "tool_error")
        assert result.content == "I only know Paris, not Lyon."

    async def test_async_timeout(self) -> None:
        @tool(timeout=0.05)
        async def sleepy() -> str:
            await asyncio.sleep(10)
            return "late"

        result = await Toolbox([sleepy]).call("sleepy", None)  # an ok result had it not fired
        _fails(result, "timeout")
        assert result.content == "sleepy timed out: no result within its 0.05 s timeout."

    async def test_sync_timeout_uses_the_box_default(self) -> None:
        release = threading.Event()

        @tool
        def stuck() -> str:
            release.wait(10)
            return "late"

        try:
            result = await Toolbox([stuck], default_timeout=0.05).call("stuck", None)
        finally:
            release.set()
        _fails(result, "timeout")
        assert "timed out: no result within its 0.05 s timeout" in result.content

    async def test_per_tool_timeout_overrides_the_default(self) -> None:
        @tool(timeout=5)
        async def patient() -> str:
            await asyncio.sleep(0.1)
            return "done"

        assert (await Toolbox([patient], default_timeout=0.01).call("patient", None)).ok

    async def test_a_timeout_error_from_the_tool_is_not_a_timeout(self) -> None:
        @tool
        async def upstream() -> None:
            raise TimeoutError("the weather service did not answer")

        result = await Toolbox([upstream]).call("upstream", None)
        _fails(result, "exception")
        assert "TimeoutError: the weather service did not answer" in result.content

    async def test_errors_are_cut_too(self) -> None:
        @tool
        def verbose() -> None:
            raise ToolError("e" * 1000)

        result = await Toolbox([verbose], max_result_chars=100).call("verbose", None)
        assert len(result.content) <= 100 and "[truncated" in result.content


class TestApproval:
    async def test_approved_sync_approver_sees_name_and_arguments(self) -> None:
        asked: list[tuple[str, dict[str, Any]]] = []

        def approve(name: str, arguments: dict[str, Any]) -> bool:
            asked.append((name, arguments))
            return True

        result = await Toolbox([delete_note], approve=approve).call("delete_note", '{"note_id": 7}')
        assert result.ok and result.content == "deleted 7"
        assert asked == [("delete_note", {"note_id": 7})]

    async def test_async_approver(self) -> None:
        async def approve(name: str, arguments: dict[str, Any]) -> bool:
            await asyncio.sleep(0)
            return arguments["note_id"] == 1

        box = Toolbox([delete_note], approve=approve)
        assert (await box.call("delete_note", {"note_id": 1})).ok
        refused = await box.call("delete_note", {"note_id": 2})
        _fails(refused, "not_approved")
        assert refused.content == (
            "Approval refused: the user did not approve delete_note, so it did not run."
        )

    async def test_refused_tool_does_not_run(self) -> None:
        ran: list[int] = []

        @tool(requires_approval=True)
        def launch(code: int) -> None:
            ran.append(code)

        result = await Toolbox([launch], approve=lambda name, arguments: False).call(
            "launch", {"code": 1}
        )
        _fails(result, "not_approved")
        assert ran == []

    @pytest.mark.parametrize("answer", ["yes", 1, None, [True]])
    async def test_only_a_clear_true_approves(self, answer: Any) -> None:
        box = Toolbox([delete_note], approve=lambda name, arguments: answer)
        _fails(await box.call("delete_note", {"note_id": 7}), "not_approved")

    async def test_a_truthy_answer_that_is_not_true_is_logged(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        box = Toolbox([delete_note], approve=lambda name, arguments: "yes")
        with caplog.at_level(logging.WARNING, logger="tools"):
            _fails(await box.call("delete_note", {"note_id": 7}), "not_approved")
        assert "approver answered 'yes' for tool delete_note, not True" in caplog.text

    async def test_no_approver_refuses(self) -> None:
        result = await Toolbox([delete_note]).call("delete_note", {"note_id": 7})
        _fails(result, "not_approved")
        assert "needs the user's approval and no approver is configured" in result.content

    async def test_approver_raising_refuses(self) -> None:
        def approve(name: str, arguments: dict[str, Any]) -> bool:
            raise RuntimeError("console closed")

        result = await Toolbox([delete_note], approve=approve).call("delete_note", {"note_id": 7})
        _fails(result, "not_approved")
        assert "RuntimeError: console closed" in result.content

    async def test_invalid_calls_are_not_put_to_the_user(self) -> None:
        asked: list[str] = []
        box = Toolbox([delete_note], approve=lambda name, arguments: asked.append(name) or True)
        _fails(await box.call("delete_note", {"note_id": "seven"}), "invalid_arguments")
        assert asked == []

    async def test_tools_without_approval_never_ask(self) -> None:
        asked: list[str] = []
        box = Toolbox([add], approve=lambda name, arguments: asked.append(name) or False)
        assert (await box.call("add", {"a": 1, "b": 1})).ok
        assert asked == []

    async def test_a_blocking_sync_approver_does_not_block_the_loop(self) -> None:
        answered = threading.Event()

        def approve(name: str, arguments: dict[str, Any]) -> bool:
            return answered.wait(5)  # a person thinking; the loop must keep running

        async def user_answers() -> None:
            await asyncio.sleep(0.05)
            answered.set()

        box = Toolbox([delete_note], approve=approve)
        result, _ = await asyncio.gather(box.call("delete_note", {"note_id": 1}), user_answers())
        assert result.ok


class TestCallMany:
    async def test_runs_concurrently_and_keeps_the_order(self) -> None:
        meeting = Rendezvous(3)  # each call waits for the others: they run at the same time

        @tool
        async def wait(seconds: float, tag: str) -> str:
            return tag if await meeting.meet() else f"{tag} alone"

        @tool
        def wait_sync(seconds: float, tag: str) -> str:
            return tag if meeting.meet_in_thread() else f"{tag} alone"

        box = Toolbox([wait, wait_sync])
        results = await box.call_many(
            [
                ("wait", '{"seconds": 0.3, "tag": "a"}', "callAAAAA"),
                ("wait_sync", {"seconds": 0.2, "tag": "b"}, "callBBBBB"),
                ("wait", {"seconds": 0.1, "tag": "c"}),
                ("nope", None, "callDDDDD"),
            ]
        )
        assert [r.content for r in results[:3]] == ["a", "b", "c"]
        assert [r.call_id for r in results] == ["callAAAAA", "callBBBBB", "", "callDDDDD"]
        assert results[3].error_kind == "unknown_tool"

    async def test_accepts_openai_tool_calls(self) -> None:
        as_dict = {
            "id": "Qx7Kp2LmZ",
            "type": "function",
            "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
        }
        as_object = ChatCompletionMessageToolCall.model_validate(
            {**as_dict, "id": "Zy8Lq3MnA", "function": {"name": "add", "arguments": "{}"}}
        )
        results = await Toolbox([add]).call_many([as_dict, as_object])
        assert [(r.call_id, r.ok) for r in results] == [("Qx7Kp2LmZ", True), ("Zy8Lq3MnA", False)]

    async def test_state_is_passed_to_every_call(self) -> None:
        @tool
        def whose(ctx: ToolContext[str]) -> str:
            return ctx.state

        results = await Toolbox([whose], state="box").call_many(
            [("whose", None), ("whose", None)], state="turn"
        )
        assert [r.content for r in results] == ["turn", "turn"]

    async def test_empty(self) -> None:
        assert await Toolbox([add]).call_many([]) == []

    @pytest.mark.parametrize(
        ("item", "error"),
        [
            (("add",), ValueError),
            ({"id": "x", "function": {"arguments": "{}"}}, ValueError),
            ({"id": "x", "function": "add"}, ValueError),
            (42, TypeError),
        ],
    )
    async def test_an_item_that_is_no_call_is_refused_before_any_call_runs(
        self, item: Any, error: type[Exception]
    ) -> None:
        ran: list[str] = []
        box = Toolbox([tool(name="note")(lambda: ran.append("ran"))])
        with pytest.raises(error, match="call"):
            await box.call_many([("note", None), item])
        assert ran == []


class TestCancellation:
    async def test_cancelling_the_caller_cancels_the_call(self) -> None:
        started = asyncio.Event()
        cancelled = asyncio.Event()

        @tool
        async def forever() -> None:
            started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        task = asyncio.create_task(Toolbox([forever]).call("forever", None))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cancelled.is_set()

    async def test_a_cancelled_error_of_the_tool_itself_is_a_failure(self) -> None:
        @tool
        async def orphan() -> None:
            waiter = asyncio.get_running_loop().create_future()
            waiter.cancel()
            await waiter

        result = await Toolbox([orphan]).call("orphan", None)
        _fails(result, "exception")
        assert result.content == "orphan failed: CancelledError"

    async def test_cancelling_call_many_lets_dispatched_calls_finish_and_reports_them(
        self,
    ) -> None:
        release = asyncio.Event()
        both_running = asyncio.Event()
        side_effects: list[str] = []
        running: list[str] = []

        @tool
        async def set_alarm(label: str) -> str:
            running.append(label)
            if len(running) == 2:
                both_running.set()
            await release.wait()
            side_effects.append(label)
            return f"alarm {label} set"

        box = Toolbox([set_alarm])
        finished: list[ToolResult] = []
        task = asyncio.create_task(
            box.call_many(
                [("set_alarm", {"label": "a"}, "callA"), ("set_alarm", {"label": "b"}, "callB")],
                on_finished=finished.append,
            )
        )
        await both_running.wait()
        task.cancel()
        await asyncio.sleep(0)
        assert not task.done()  # it waits for the dispatched calls
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert side_effects == ["a", "b"]
        assert [(r.call_id, r.content) for r in finished] == [
            ("callA", "alarm a set"),
            ("callB", "alarm b set"),
        ]

    async def test_calls_not_yet_dispatched_are_not_started_when_cancelled(self) -> None:
        ran: list[str] = []
        started: list[str] = []
        entered = asyncio.Event()
        never = asyncio.Event()

        @tool
        def note(text: str) -> str:
            ran.append(text)
            return text

        async def on_started(call_id: str, name: str, arguments: dict[str, Any]) -> None:
            started.append(call_id)
            if call_id == "second":
                entered.set()
                await never.wait()  # the caller is cancelled while this hook runs

        finished: list[ToolResult] = []
        task = asyncio.create_task(
            Toolbox([note]).call_many(
                [
                    ("note", {"text": "1"}, "first"),
                    ("note", {"text": "2"}, "second"),
                    ("note", {"text": "3"}, "third"),
                ],
                on_started=on_started,
                on_finished=finished.append,
            )
        )
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert started == ["first", "second"]
        assert ran == ["1"]  # dispatched before the cancellation: ran to its end
        assert [r.call_id for r in finished] == ["first"]

    async def test_a_second_cancellation_stops_the_wait_but_not_the_call(self) -> None:
        release = asyncio.Event()
        running = asyncio.Event()
        finished: list[ToolResult] = []

        @tool(timeout=60)
        async def slow() -> str:
            running.set()
            await release.wait()
            return "done"

        reported = asyncio.Event()

        def on_finished(result: ToolResult) -> None:
            finished.append(result)
            reported.set()

        task = asyncio.create_task(
            Toolbox([slow]).call_many([("slow", None, "s1")], on_finished=on_finished)
        )
        await running.wait()
        task.cancel()
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert finished == []
        release.set()
        await reported.wait()
        assert finished[0].content == "done" and finished[0].call_id == "s1"


class TestIssueSampleBox:
    """The issue's sample toolbox (the `box` fixture), called as the issue calls it."""

    def test_schemas_in_registration_order(self, box: Toolbox) -> None:
        assert box.schemas() == [samples.get_weather.schema, samples.set_timer.schema]
        assert [
            s["function"]["name"]
            for s in Toolbox([samples.set_timer, samples.get_weather]).schemas()
        ] == [
            "set_timer",
            "get_weather",
        ]
        json.dumps(box.schemas())  # plain JSON data

    async def test_call_with_json_text(self, box: Toolbox) -> None:
        result = await box.call("get_weather", '{"city": "Paris"}', call_id="Qx7Kp2LmZ")
        assert result.ok is True
        assert result.value == {"city": "Paris", "unit": "celsius", "temperature": 21}
        assert json.loads(result.content) == result.value
        assert result.error is None
        assert result.name == "get_weather"
        assert result.arguments == {"city": "Paris"}
        assert result.call_id == "Qx7Kp2LmZ"

    def test_call_id_may_be_positional(self, box: Toolbox) -> None:
        result = asyncio.run(box.call("get_weather", {"city": "Oslo"}, "Qx7Kp2LmZ"))
        assert result.ok and result.call_id == "Qx7Kp2LmZ"
        assert box.call_sync("get_weather", {"city": "Oslo"}, "abcdefghi").call_id == "abcdefghi"

    async def test_call_with_a_dict(self, box: Toolbox) -> None:
        result = await box.call("get_weather", {"city": "Paris", "unit": "fahrenheit"})
        assert result.ok
        assert result.value["unit"] == "fahrenheit"
        assert result.arguments == {"city": "Paris", "unit": "fahrenheit"}
        assert result.call_id == ""

    async def test_approved_async_tool(self, box: Toolbox) -> None:
        result = await box.call(
            "set_timer", '{"minutes": 5, "label": "pasta"}', call_id="abcdefghi"
        )
        assert result.ok
        assert result.content == "Timer set for 5 minutes (pasta)"
        assert samples.asked == [("set_timer", {"minutes": 5, "label": "pasta"})]

    async def test_the_approver_is_not_asked_for_other_tools(self, box: Toolbox) -> None:
        assert (await box.call("get_weather", {"city": "Paris"})).ok
        assert samples.asked == []


class TestFailuresNeverRaise:
    async def test_unknown_tool_lists_the_available_names(self, box: Toolbox) -> None:
        result = await box.call("get_time", "{}", call_id="Qx7Kp2LmZ")
        assert_failed(result)
        assert "get_time" in result.content
        assert "get_weather" in result.content and "set_timer" in result.content
        assert result.name == "get_time"
        assert result.call_id == "Qx7Kp2LmZ"
        assert result.arguments == {}

    async def test_a_name_in_another_case_still_finds_the_tool(self, box: Toolbox) -> None:
        result = await box.call("Get_Weather", {"city": "Paris"})
        assert result.ok
        assert result.name == "get_weather"

    async def test_arguments_not_json(self, box: Toolbox) -> None:
        result = await box.call("get_weather", '{"city": "Paris"', call_id="Qx7Kp2LmZ")
        assert_failed(result)
        assert "JSON" in result.content
        assert result.arguments == {}
        assert result.call_id == "Qx7Kp2LmZ"
        assert result.name == "get_weather"

    @pytest.mark.parametrize("arguments", ['["Paris"]', '"Paris"', "42", "true", "null"])
    async def test_arguments_not_an_object(self, box: Toolbox, arguments: str) -> None:
        result = await box.call("get_weather", arguments, call_id="Qx7Kp2LmZ")
        assert_failed(result)
        assert "object" in result.content
        assert result.arguments == {}

    async def test_missing_argument(self, box: Toolbox) -> None:
        result = await box.call("get_weather", "{}")
        assert_failed(result)
        assert "city" in result.content
        assert "required" in result.content or "missing" in result.content.lower()

    async def test_validation_names_the_field_and_what_was_expected(self, box: Toolbox) -> None:
        result = await box.call("get_weather", {"city": "Paris", "unit": "kelvin"})
        assert_failed(result)
        assert "unit" in result.content
        assert "celsius" in result.content and "fahrenheit" in result.content
        assert result.arguments == {"city": "Paris", "unit": "kelvin"}

    async def test_wrong_type(self, box: Toolbox) -> None:
        result = await box.call("set_timer", {"minutes": "five"})
        assert_failed(result)
        assert "minutes" in result.content and "integer" in result.content
        assert samples.asked == []  # nothing invalid is put to the user

    async def test_lax_coercion(self, box: Toolbox) -> None:
        result = await box.call("set_timer", '{"minutes": "5"}')
        assert result.ok
        assert result.content == "Timer set for 5 minutes"
        assert result.arguments == {"minutes": "5"}  # what the model sent

    async def test_tool_raising(self, caplog: pytest.LogCaptureFixture) -> None:
        @tool
        def flaky(city: str) -> str:
            raise ValueError(f"no station near {city}")

        with caplog.at_level(logging.DEBUG):
            result = await Toolbox([flaky]).call("flaky", {"city": "Paris"}, call_id="abcdefghi")
        assert_failed(result)
        assert "ValueError" in result.content and "no station near Paris" in result.content
        assert result.call_id == "abcdefghi" and result.arguments == {"city": "Paris"}
        assert any(record.exc_info for record in caplog.records)  # the traceback is logged

    async def test_async_tool_raising(self) -> None:
        @tool
        async def flaky() -> str:
            raise RuntimeError("service down")

        result = await Toolbox([flaky]).call("flaky", None)
        assert_failed(result)
        assert "RuntimeError" in result.content and "service down" in result.content

    @pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, GeneratorExit])
    async def test_a_sync_tool_raising_a_base_exception(self, error: type[BaseException]) -> None:
        @tool
        def rude() -> str:
            raise error("stop")

        result = await Toolbox([rude]).call("rude", None)
        assert_failed(result)
        assert error.__name__ in result.content

    async def test_timeout_per_tool(self) -> None:
        returned: list[str] = []

        @tool(timeout=0.1)
        async def slow() -> str:
            await asyncio.sleep(5)
            returned.append("late")
            return "late"

        result = await Toolbox([slow]).call("slow", None, call_id="abcdefghi")
        assert returned == []  # the result came while the tool still ran (not after it)
        assert_failed(result)
        assert "timed out" in result.content
        assert result.call_id == "abcdefghi"

    async def test_timeout_of_a_sync_tool(self) -> None:
        release = threading.Event()
        returned: list[str] = []

        @tool(timeout=0.1)
        def stuck() -> str:
            release.wait(WAIT)
            returned.append("late")
            return "late"

        try:
            result = await Toolbox([stuck]).call("stuck", None)
            assert returned == []  # the result came while the tool still ran (not after it)
        finally:
            release.set()
        assert_failed(result)
        assert "timed out" in result.content

    def test_default_timeout_is_30_seconds(self) -> None:
        assert Toolbox().default_timeout == 30
        assert samples.get_weather.timeout is None  # the box's default applies

    async def test_the_box_default_applies_to_tools_without_their_own(self) -> None:
        @tool
        async def slow() -> str:
            await asyncio.sleep(5)
            return "late"

        result = await Toolbox([slow, samples.set_timer], default_timeout=0.1).call("slow", None)
        assert_failed(result)
        assert "timed out" in result.content

    async def test_approval_refused(self) -> None:
        ran: list[int] = []

        @tool(requires_approval=True)
        def delete_all_notes() -> str:
            ran.append(1)
            return "deleted"

        box = Toolbox([delete_all_notes], approve=lambda name, arguments: False)
        result = await box.call("delete_all_notes", None, call_id="abcdefghi")
        assert_failed(result)
        assert "approv" in result.content.lower()
        assert ran == []

    async def test_async_approver(self) -> None:
        seen: list[tuple[str, dict[str, Any]]] = []

        async def approve(name: str, arguments: dict[str, Any]) -> bool:
            await asyncio.sleep(0)
            seen.append((name, arguments))
            return arguments["minutes"] < 60

        box = Toolbox([samples.set_timer], approve=approve)
        assert (await box.call("set_timer", {"minutes": 5})).ok
        assert_failed(await box.call("set_timer", {"minutes": 90}))
        assert seen == [("set_timer", {"minutes": 5}), ("set_timer", {"minutes": 90})]

    async def test_approval_required_but_no_approver(self) -> None:
        result = await Toolbox([samples.set_timer]).call("set_timer", {"minutes": 5})
        assert_failed(result)
        assert "approv" in result.content.lower()

    async def test_approver_raising_refuses(self) -> None:
        def approve(name: str, arguments: dict[str, Any]) -> bool:
            raise OSError("no terminal")

        assert_failed(
            await Toolbox([samples.set_timer], approve=approve).call("set_timer", {"minutes": 5})
        )


class TestConcurrency:
    """Sync tools in worker threads, async ones on the loop, calls at once (as the issue says).

    Running together is proven by a `Rendezvous` (each call waits until all have started),
    the loop's freedom by a tool that waits for the loop to tick: no timing involved.
    """

    async def test_sync_tools_run_in_a_worker_thread(self) -> None:
        @tool
        def which_thread() -> int:
            return threading.get_ident()

        result = await Toolbox([which_thread]).call("which_thread", None)
        assert result.ok and result.value != threading.get_ident()

    async def test_the_loop_keeps_ticking_while_a_sync_tool_sleeps(self) -> None:
        ticked = threading.Event()

        @tool(timeout=2 * WAIT)
        def nap() -> str:
            # Returns once the loop has ticked ten times: it can only if the loop runs meanwhile.
            return "rested" if ticked.wait(WAIT) else "the loop was blocked"

        ticks: list[float] = []

        async def tick() -> None:
            while len(ticks) < 10:
                ticks.append(time.perf_counter())
                await asyncio.sleep(0.01)
            ticked.set()

        ticker = asyncio.create_task(tick())
        result = await Toolbox([nap]).call("nap", None)
        ticker.cancel()
        assert result.ok
        assert result.content == "rested"
        assert len(ticks) >= 10

    async def test_several_calls_run_together_and_keep_their_order(self) -> None:
        meeting = Rendezvous(4)

        @tool
        def slow_echo(text: str, seconds: float) -> str:
            return text if meeting.meet_in_thread() else f"{text} ran alone"

        @tool
        async def async_echo(text: str, seconds: float) -> str:
            return text if await meeting.meet() else f"{text} ran alone"

        box = Toolbox([slow_echo, async_echo])
        results = await asyncio.gather(
            box.call("slow_echo", {"text": "a", "seconds": 0.3}, call_id="aaaaaaaaa"),
            box.call("async_echo", {"text": "b", "seconds": 0.1}, call_id="bbbbbbbbb"),
            box.call("slow_echo", {"text": "c", "seconds": 0.2}, call_id="ccccccccc"),
            box.call("async_echo", {"text": "d", "seconds": 0.3}, call_id="ddddddddd"),
        )
        assert [r.content for r in results] == ["a", "b", "c", "d"]  # all four met: together
        assert [r.call_id for r in results] == ["aaaaaaaaa", "bbbbbbbbb", "ccccccccc", "ddddddddd"]

        meeting = Rendezvous(2)
        many = await box.call_many(
            [
                ("slow_echo", {"text": "x", "seconds": 0.2}),
                ("async_echo", '{"text": "y", "seconds": 0}'),
            ]
        )
        assert [r.content for r in many] == ["x", "y"]


class TestIssueToolboxErrors:
    """Toolbox construction errors as the issue states them."""

    def test_duplicate_names_at_toolbox_construction(self) -> None:
        @tool(name="get_weather")
        def other_weather(city: str) -> str:
            return city

        with pytest.raises(ValueError) as caught:
            Toolbox([samples.get_weather, other_weather])
        assert "get_weather" in str(caught.value)

    def test_the_same_function_twice(self) -> None:
        with pytest.raises(ValueError):
            Toolbox([samples.get_weather, samples.get_weather])

    def test_empty_toolbox(self) -> None:
        box = Toolbox([])
        assert box.schemas() == []
        result = asyncio.run(box.call("anything", "{}"))
        assert_failed(result)


@dataclasses.dataclass(frozen=True)
class FlatCall:
    """A tool call shaped as `agent.backend.ToolCall`: id, name and raw JSON arguments."""

    id: str
    name: str
    arguments: str


class TestCallManyHooks:
    async def test_started_before_each_dispatch_finished_after_each_end(self) -> None:
        events: list[tuple[Any, ...]] = []

        @tool
        def echo(text: str) -> str:
            events.append(("ran", text))
            return text

        def on_started(call_id: str, name: str, arguments: dict[str, Any]) -> None:
            events.append(("started", call_id, name, arguments))

        async def on_finished(result: ToolResult) -> None:
            await asyncio.sleep(0)
            events.append(("finished", result.call_id, result.content))

        results = await Toolbox([echo]).call_many(
            [FlatCall("c1", "echo", '{"text": "a"}'), ("ECHO", "[1]", "c2")],
            on_started=on_started,
            on_finished=on_finished,
        )
        assert [r.call_id for r in results] == ["c1", "c2"]
        assert results[1].error_kind == "invalid_arguments"
        assert events[:2] == [
            ("started", "c1", "echo", {"text": "a"}),
            ("started", "c2", "ECHO", {}),  # the model's name; {} for arguments not an object
        ]
        assert ("ran", "a") in events
        assert events.index(("ran", "a")) < events.index(("finished", "c1", "a"))
        assert ("finished", "c2", results[1].content) in events

    @pytest.mark.parametrize("kind", ["sync", "async"])
    async def test_a_hook_that_raises_is_logged_and_changes_nothing(
        self, kind: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        def sync_hook(*args: Any) -> None:
            raise RuntimeError("hook bug")

        async def async_hook(*args: Any) -> None:
            raise KeyboardInterrupt  # even a BaseException

        hook = sync_hook if kind == "sync" else async_hook
        with caplog.at_level(logging.WARNING, logger="tools"):
            results = await Toolbox([add]).call_many(
                [("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})],
                on_started=hook,
                on_finished=hook,
            )
        assert [r.value for r in results] == [3, 7]
        hook_records = [r for r in caplog.records if "hook raised" in r.getMessage()]
        assert len(hook_records) == 4 and all(r.name == "tools" for r in hook_records)

    async def test_results_keep_the_order_of_calls_whatever_finishes_first(self) -> None:
        order: list[str] = []
        gates = {tag: asyncio.Event() for tag in "abc"}

        @tool
        async def wait_for(tag: str) -> str:
            await gates[tag].wait()
            order.append(tag)
            if tag == "c":
                gates["b"].set()
            elif tag == "b":
                gates["a"].set()
            return tag

        def on_started(call_id: str, name: str, arguments: dict[str, Any]) -> None:
            if call_id == "3":
                gates["c"].set()

        results = await Toolbox([wait_for]).call_many(
            [("wait_for", {"tag": t}, str(i)) for i, t in enumerate("abc", 1)],
            on_started=on_started,
        )
        assert order == ["c", "b", "a"]
        assert [r.content for r in results] == ["a", "b", "c"]


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ fails")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ fails")


class UnprintableArgs(Exception):
    """Its args cannot be printed either."""

    def __init__(self) -> None:
        super().__init__(Unprintable(), Unprintable())


class BadNotes(Exception):
    """Even the traceback cannot be formatted (traceback reads __notes__)."""

    @property
    def __notes__(self) -> list[str]:  # type: ignore[override]
        raise RuntimeError("__notes__ fails")


class WeirdBase(BaseException):
    def __str__(self) -> str:
        raise ValueError("no text")


class UnprintableStr(str):
    """A str whose own methods fail."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __len__(self) -> int:
        raise RuntimeError("no len")


class NoMessageToolError(ToolError):
    def __init__(self) -> None:  # never sets `message`
        Exception.__init__(self)


class ObjectToolError(ToolError):
    def __init__(self) -> None:
        super().__init__(Unprintable())  # type: ignore[arg-type]


HOSTILE_ERRORS = [
    Unprintable(),
    Unprintable("with args"),
    UnprintableArgs(),
    BadNotes("notes"),
    WeirdBase(),
    KeyboardInterrupt(),
    SystemExit(2),
    GeneratorExit(),
    asyncio.CancelledError(),
    NoMessageToolError(),
    ObjectToolError(),
    ToolError(""),
]


def _raiser(error: BaseException, is_async: bool) -> Tool[..., Any]:
    if is_async:

        async def fail_async() -> None:
            raise error

        return tool(name="fail")(fail_async)

    def fail() -> None:
        raise error

    return tool(name="fail")(fail)


class TestAnyExceptionObject:
    @pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
    @pytest.mark.parametrize("error", HOSTILE_ERRORS, ids=lambda e: type(e).__name__)
    async def test_a_tool_raising_anything_is_a_failed_result(
        self, error: BaseException, is_async: bool, caplog: pytest.LogCaptureFixture
    ) -> None:
        box = Toolbox([_raiser(error, is_async), add])
        with caplog.at_level(logging.DEBUG, logger="tools"):
            results = await box.call_many([("fail", None, "f1"), ("add", {"a": 1, "b": 1}, "a1")])
        failed, fine = results
        assert_failed(failed)
        assert failed.call_id == "f1" and failed.name == "fail"
        assert failed.error_kind in ("exception", "tool_error")
        assert type(error).__name__ in failed.content or failed.error_kind == "tool_error"
        assert fine.ok and fine.value == 2

    @pytest.mark.parametrize("error", HOSTILE_ERRORS[:9], ids=lambda e: type(e).__name__)
    async def test_an_approver_raising_anything_refuses(self, error: BaseException) -> None:
        async def approve_async(name: str, arguments: dict[str, Any]) -> bool:
            raise error

        def approve_sync(name: str, arguments: dict[str, Any]) -> bool:
            raise error

        for approve in (approve_async, approve_sync):
            result = await Toolbox([delete_note], approve=approve).call(
                "delete_note", {"note_id": 1}
            )
            assert_failed(result, "not_approved")
            assert type(error).__name__ in result.content

    async def test_an_approver_answering_an_unprintable_object_refuses(self) -> None:
        class Answer:
            def __repr__(self) -> str:
                raise RuntimeError("no repr")

            def __bool__(self) -> bool:
                raise RuntimeError("no truth")

        box = Toolbox([delete_note], approve=lambda name, arguments: Answer())
        assert_failed(await box.call("delete_note", {"note_id": 1}), "not_approved")

    async def test_a_validator_raising_an_unprintable_base_exception(self) -> None:
        class Strange(BaseModel):
            value: int

            @field_validator("value")
            @classmethod
            def explode(cls, value: int) -> int:
                raise WeirdBase

        @tool
        def strange(item: Strange) -> None: ...

        result = await Toolbox([strange]).call("strange", {"item": {"value": 1}})
        assert_failed(result, "invalid_arguments")
        assert "WeirdBase" in result.content

    @pytest.mark.parametrize(
        "value",
        [Unprintable(), UnprintableStr("odd"), {"inner": Unprintable()}],
        ids=["object", "str-subclass", "nested"],
    )
    async def test_an_unprintable_return_value_still_gives_text(self, value: Any) -> None:
        result = await Toolbox([tool(name="give")(_returning(value))]).call("give", None)
        assert result.ok and type(result.content) is str and result.content
        json.dumps(result.to_dict())
        assert result.to_message()["content"]

    async def test_the_cancellation_of_the_caller_still_goes_through(self) -> None:
        entered = asyncio.Event()

        async def approve(name: str, arguments: dict[str, Any]) -> bool:
            entered.set()
            await asyncio.Event().wait()
            return True

        task = asyncio.create_task(
            Toolbox([delete_note], approve=approve).call("delete_note", {"note_id": 1})
        )
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_an_approver_taking_a_third_argument_gets_the_tool() -> None:
    seen: list[tuple[str, str | None]] = []

    @tool(requires_approval=True)
    def delete_everything() -> str:
        """Delete everything."""
        return "deleted"

    async def approve(name: str, arguments: dict[str, Any], member: Tool[..., Any]) -> bool:
        seen.append((member.name, member.source))
        return True

    box = Toolbox([delete_everything], approve=approve)
    assert (await box.call("delete_everything")).content == "deleted"
    assert seen == [("delete_everything", None)]
