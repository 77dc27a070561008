"""Dates and times in any time zone (IANA names through `zoneinfo`), forgiving of short names."""

from __future__ import annotations

import difflib
import functools
import zoneinfo
from datetime import date, datetime, time
from typing import Any

from tools import ToolError, tool

__all__ = [
    "convert_time",
    "describe",
    "find_timezone",
    "get_current_time",
    "local_timezone_name",
    "parse_date",
    "parse_time_of_day",
]


def find_timezone(name: str) -> zoneinfo.ZoneInfo:
    """The time zone called `name`: an IANA name (``Europe/Paris``), any case, or its city part.

    Raises:
        ValueError: no such zone; the message suggests close names.
    """
    wanted = name.strip().replace(" ", "_")
    by_key = _zones_by_folded_name()
    key = by_key.get(wanted.casefold())
    if key is None:
        raise ValueError(_unknown_zone_message(name, list(by_key)))
    return zoneinfo.ZoneInfo(key)


def local_timezone_name() -> str:
    """The name of this machine's time zone (an IANA key when known, else e.g. ``CET``)."""
    local = datetime.now().astimezone().tzinfo
    key = getattr(local, "key", None)
    return str(key) if key else str(local)


def describe(moment: datetime, zone_name: str) -> dict[str, Any]:
    """A moment as the model reads it best: ISO form plus the parts people say aloud."""
    return {
        "timezone": zone_name,
        "iso": moment.isoformat(timespec="seconds"),
        "date": moment.date().isoformat(),
        "weekday": moment.strftime("%A"),
        "time": moment.strftime("%H:%M"),
        "utc_offset": _offset(moment),
    }


def parse_time_of_day(text: str) -> time:
    """``"14:30"``, ``"2:30 pm"``, ``"7am"`` or ``"14:30:15"`` as a `time`.

    Raises:
        ValueError: not a time of day.
    """
    cleaned = text.strip().lower().replace(".", "").replace(" ", "")
    for pattern in ("%H:%M", "%H:%M:%S", "%I:%M%p", "%I%p", "%H"):
        try:
            return datetime.strptime(cleaned, pattern).time()
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a time of day; use 24-hour HH:MM such as '14:30'.")


def parse_date(text: str) -> date:
    """An ISO date ``YYYY-MM-DD``.

    Raises:
        ValueError: not an ISO date.
    """
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text}' is not a date; use YYYY-MM-DD such as '2026-03-14'.") from None


@functools.cache
def _zones_by_folded_name() -> dict[str, str]:
    keys = sorted(zoneinfo.available_timezones())
    by_name: dict[str, str] = {}
    # City parts first, so a full key always wins over a city part of the same spelling.
    for key in keys:
        by_name.setdefault(key.rsplit("/", 1)[-1].casefold(), key)
    for key in keys:
        by_name[key.casefold()] = key
    return by_name


def _unknown_zone_message(name: str, folded: list[str]) -> str:
    close = difflib.get_close_matches(name.strip().replace(" ", "_").casefold(), folded, n=3)
    keys = _zones_by_folded_name()
    hint = f" Did you mean {', '.join(keys[c] for c in close)}?" if close else ""
    return f"Unknown time zone '{name}'; use an IANA name such as 'Europe/Paris'.{hint}"


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset()
    if offset is None:
        return "+00:00"
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


@tool
def get_current_time(timezone: str | None = None) -> dict[str, Any]:
    """The current date and time, here or in another time zone.

    Args:
        timezone: An IANA time zone such as "Asia/Tokyo" or a city such as "Tokyo";
            leave it out for the user's own time zone.
    """
    if timezone:
        zone = _zone_or_tool_error(timezone)
        return describe(datetime.now(zone), zone.key)
    return describe(datetime.now().astimezone(), local_timezone_name())


@tool
def convert_time(
    time: str, from_timezone: str, to_timezone: str, date: str | None = None
) -> dict[str, Any]:
    """Convert a time of day from one time zone to another.

    Args:
        time: The time to convert, 24-hour "HH:MM" such as "14:30".
        from_timezone: The time zone the time is in (IANA name or city).
        to_timezone: The time zone to convert to (IANA name or city).
        date: The day, "YYYY-MM-DD" (default: today in from_timezone); it matters around
            daylight-saving changes.
    """
    source = _zone_or_tool_error(from_timezone)
    target = _zone_or_tool_error(to_timezone)
    try:
        clock = parse_time_of_day(time)
        day = parse_date(date) if date else datetime.now(source).date()
    except ValueError as error:
        raise ToolError(str(error)) from None
    moment = datetime.combine(day, clock, tzinfo=source)
    return {
        "from": describe(moment, source.key),
        "to": describe(moment.astimezone(target), target.key),
    }


def _zone_or_tool_error(name: str) -> zoneinfo.ZoneInfo:
    try:
        return find_timezone(name)
    except ValueError as error:
        raise ToolError(str(error)) from None
