from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tools import Toolbox
from tools.builtin import convert_time, find_timezone, get_current_time


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Europe/Paris", "Europe/Paris"),
        ("europe/paris", "Europe/Paris"),
        ("Tokyo", "Asia/Tokyo"),
        ("new york", "America/New_York"),
        ("UTC", "UTC"),
    ],
)
def test_finds_zones_by_key_or_city(name: str, key: str) -> None:
    assert find_timezone(name).key == key


def test_unknown_zone_suggests_close_names() -> None:
    with pytest.raises(ValueError, match=r"Unknown time zone 'Pariss'.*Europe/Paris"):
        find_timezone("Pariss")


async def test_current_time_in_a_zone() -> None:
    result = await Toolbox([get_current_time]).call("get_current_time", {"timezone": "Tokyo"})
    assert result.ok, result.content
    value = result.value
    assert value["timezone"] == "Asia/Tokyo" and value["utc_offset"] == "+09:00"
    moment = datetime.fromisoformat(value["iso"])
    now = datetime.now(ZoneInfo("Asia/Tokyo"))
    assert abs((now - moment).total_seconds()) < 5
    assert value["weekday"] == moment.strftime("%A")


async def test_current_time_without_zone_is_local() -> None:
    result = await Toolbox([get_current_time]).call("get_current_time", {})
    assert result.ok
    moment = datetime.fromisoformat(result.value["iso"])
    assert abs((datetime.now().astimezone() - moment).total_seconds()) < 5


async def test_convert_time_across_zones_and_dst() -> None:
    box = Toolbox([convert_time])
    winter = await box.call(
        "convert_time",
        {
            "time": "09:00",
            "from_timezone": "Paris",
            "to_timezone": "New York",
            "date": "2026-01-15",
        },
    )
    assert winter.ok and winter.value["to"]["time"] == "03:00"
    summer = await box.call(
        "convert_time",
        {"time": "2:30 pm", "from_timezone": "UTC", "to_timezone": "Europe/London",
         "date": "2026-07-01"},
    )  # fmt: skip
    assert summer.ok and summer.value["to"]["time"] == "15:30"


async def test_bad_zone_or_time_is_a_message_for_the_model() -> None:
    box = Toolbox([convert_time, get_current_time])
    bad_zone = await box.call("get_current_time", {"timezone": "Atlantis"})
    assert not bad_zone.ok and "Unknown time zone 'Atlantis'" in bad_zone.content
    bad_time = await box.call(
        "convert_time", {"time": "25:99", "from_timezone": "UTC", "to_timezone": "UTC"}
    )
    assert not bad_time.ok and "not a time of day" in bad_time.content
