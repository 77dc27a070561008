import asyncio
from datetime import datetime, timedelta

import pytest

from tools import Toolbox
from tools.builtin import Timer, TimerService, timer_tools


async def test_timer_fires_and_tells_sync_and_async_listeners() -> None:
    heard: list[str] = []
    rang = asyncio.Event()

    async def announce(timer: Timer) -> None:
        heard.append(f"async {timer.label}")
        rang.set()

    service = TimerService(on_fire=lambda timer: heard.append(f"sync {timer.label}"))
    service.add_listener(announce)
    timer = service.start_timer(0.05, "tea")
    assert service.pending() == [timer] and timer.kind == "timer"
    await asyncio.wait_for(rang.wait(), 30)  # only a failure waits that long
    assert heard == ["sync tea", "async tea"]
    assert service.pending() == [] and service.fired == [timer]


async def test_a_failing_listener_does_not_stop_the_others() -> None:
    heard: list[int] = []

    def broken(timer: Timer) -> None:
        raise RuntimeError("boom")

    told = asyncio.Event()

    def listen(timer: Timer) -> None:
        heard.append(timer.id)
        told.set()

    service = TimerService(on_fire=broken)
    service.add_listener(listen)
    service.start_timer(0.01)
    await asyncio.wait_for(told.wait(), 30)  # an event, not a sleep: no race on a busy machine
    assert heard == [1]


async def test_cancel_and_limits() -> None:
    service = TimerService()
    timer = service.start_timer(60, "eggs")
    assert service.cancel(timer.id) == timer
    assert service.pending() == []
    with pytest.raises(KeyError, match="no pending timer with id 1"):
        service.cancel(timer.id)
    with pytest.raises(ValueError, match="more than 0 seconds"):
        service.start_timer(0)
    with pytest.raises(ValueError, match="in the past"):
        service.set_alarm(datetime.now() - timedelta(minutes=1))
    later = service.set_alarm(datetime.now() + timedelta(hours=1), "meeting")
    assert later.kind == "alarm" and 3590 < later.seconds_left() <= 3600
    service.cancel_all()
    assert service.pending() == []


async def test_tools_set_list_cancel() -> None:
    service = TimerService()
    box = Toolbox(timer_tools(service))
    started = await box.call("set_timer", {"minutes": 5, "label": "pasta"})
    assert started.ok and started.value["label"] == "pasta"
    assert 295 <= started.value["seconds_left"] <= 300
    alarm = await box.call("set_alarm", {"time": "07:30", "label": "wake up"})
    assert alarm.ok
    due = datetime.fromisoformat(alarm.value["due"])
    assert (due.hour, due.minute) == (7, 30)
    assert timedelta(0) < due - datetime.now().astimezone() <= timedelta(days=1)
    listed = await box.call("list_timers", {})
    assert sorted(item["label"] for item in listed.value) == ["pasta", "wake up"]
    dues = [item["due"] for item in listed.value]
    assert dues == sorted(dues)  # soonest first
    cancelled = await box.call("cancel_timer", {"timer_id": started.value["id"]})
    assert cancelled.ok and cancelled.value["cancelled"]["label"] == "pasta"
    assert [timer.label for timer in service.pending()] == ["wake up"]
    service.cancel_all()


async def test_tool_errors_are_messages_for_the_model() -> None:
    box = Toolbox(timer_tools(TimerService()))
    empty = await box.call("set_timer", {})
    assert not empty.ok and "Give hours, minutes or seconds" in empty.content
    bad_time = await box.call("set_alarm", {"time": "half past"})
    assert not bad_time.ok and "not a time of day" in bad_time.content
    missing = await box.call("cancel_timer", {"timer_id": 9})
    assert not missing.ok and missing.content == "There is no pending timer with id 9."
