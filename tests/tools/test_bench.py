"""`bench/tools_dispatch.py` still runs (a few calls; the figures themselves are not asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "tools_dispatch.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tools_dispatch_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_bench_measures_every_kind() -> None:
    rows = await _load().measure(calls=20)
    assert [row["tool"] for row in rows] == ["sync", "async", "call_many"]
    for row in rows:
        assert row["toolbox_us"] > row["direct_us"] > 0
        assert row["ratio"] > 1
