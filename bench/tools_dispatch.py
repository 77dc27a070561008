#!/usr/bin/env python3
"""Dispatch overhead of `Toolbox.call` against calling the tool function directly.

Two trivial tools, one sync and one async, each called many times both ways, the two ways
interleaved call by call so that they see the same machine load. For each tool: the median
time per call (µs) directly and through ``Toolbox.call`` (JSON arguments as the model sends
them: parse, validate, run, render the result; the sync tool also hops to a worker thread),
the overhead in µs, and the ratio; and one async call through ``Toolbox.call_many`` with
both hooks (its own task per call). Targets on a 2-core machine: overhead under 150 µs for the
sync tool, under 50 µs for the async tool, under 100 µs for the call_many row. Usage:

    .venv/bin/python bench/tools_dispatch.py [--calls 5000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tools import Toolbox, tool

TARGETS_US = {"sync": 150.0, "async": 50.0, "call_many": 100.0}
ARGUMENTS = '{"city": "Paris", "days": 3}'


@tool
def forecast_sync(city: str, days: int = 1) -> str:
    """A trivial sync tool."""
    return city


@tool
async def forecast_async(city: str, days: int = 1) -> str:
    """A trivial async tool."""
    return city


async def _median_pair(
    direct: Callable[[], Awaitable[Any]], dispatched: Callable[[], Awaitable[Any]], calls: int
) -> tuple[float, float]:
    """Median µs per call of ``direct`` and ``dispatched``, measured alternately."""
    for _ in range(min(calls, 200)):  # warm up: thread pool, caches
        await direct()
        await dispatched()
    direct_ns: list[int] = []
    dispatched_ns: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        start = clock()
        await direct()
        middle = clock()
        await dispatched()
        end = clock()
        direct_ns.append(middle - start)
        dispatched_ns.append(end - middle)
    return statistics.median(direct_ns) / 1000, statistics.median(dispatched_ns) / 1000


async def measure(calls: int) -> list[dict[str, Any]]:
    """The figures for the sync and the async tool."""
    box = Toolbox([forecast_sync, forecast_async])

    async def direct_sync() -> Any:
        return forecast_sync("Paris", days=3)

    async def direct_async() -> Any:
        return await forecast_async("Paris", days=3)

    async def via_box_sync() -> Any:
        result = await box.call("forecast_sync", ARGUMENTS, call_id="Qx7Kp2LmZ")
        assert result.ok, result.content
        return result

    async def via_box_async() -> Any:
        result = await box.call("forecast_async", ARGUMENTS, call_id="Qx7Kp2LmZ")
        assert result.ok, result.content
        return result

    def hook(*args: Any) -> None:
        return None

    async def via_call_many() -> Any:
        call = ("forecast_async", ARGUMENTS, "Qx7Kp2LmZ")
        (result,) = await box.call_many([call], on_started=hook, on_finished=hook)
        assert result.ok, result.content
        return result

    rows = []
    for kind, direct, dispatched in (
        ("sync", direct_sync, via_box_sync),
        ("async", direct_async, via_box_async),
        ("call_many", direct_async, via_call_many),
    ):
        direct_us, dispatched_us = await _median_pair(direct, dispatched, calls)
        overhead = dispatched_us - direct_us
        rows.append(
            {
                "tool": kind,
                "calls": calls,
                "direct_us": round(direct_us, 2),
                "toolbox_us": round(dispatched_us, 2),
                "overhead_us": round(overhead, 2),
                "ratio": round(dispatched_us / direct_us, 1),
                "target_us": TARGETS_US[kind],
                "within_target": overhead < TARGETS_US[kind],
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per tool and way")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args()
    rows = asyncio.run(measure(options.calls))
    if options.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"Toolbox.call overhead, median of {options.calls} calls each, side by side")
        print(f"{'tool':<9} {'direct':>10} {'Toolbox':>13} {'overhead':>10} {'ratio':>8}")
        for row in rows:
            verdict = "ok" if row["within_target"] else "OVER"
            print(
                f"{row['tool']:<9} {row['direct_us']:>8.2f}µs {row['toolbox_us']:>11.2f}µs "
                f"{row['overhead_us']:>8.2f}µs {row['ratio']:>7.1f}x  "
                f"(target < {row['target_us']:.0f}µs: {verdict})"
            )
    return 0 if all(row["within_target"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
