"""Facts about the computer the assistant runs on (read-only)."""

from __future__ import annotations

import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from tools import tool

__all__ = ["system_info"]


@tool
def system_info() -> dict[str, Any]:
    """Facts about this computer: operating system, CPU, memory, disk space, uptime and load."""
    info: dict[str, Any] = {
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "hostname": platform.node(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "local_time": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    disk = shutil.disk_usage(Path.home())
    info["disk_free_gb"] = round(disk.free / 1e9, 1)
    info["disk_total_gb"] = round(disk.total / 1e9, 1)
    memory = _memory_gb()
    if memory:
        info.update(memory)
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(load, 2) for load in os.getloadavg()]
    uptime = _uptime_seconds()
    if uptime is not None:
        info["uptime_hours"] = round(uptime / 3600, 1)
    return info


def _memory_gb() -> dict[str, float]:
    """Total and available memory from /proc/meminfo (Linux), else total via sysconf."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        total_kib = int(fields["MemTotal"].split()[0])
        available_kib = int(fields["MemAvailable"].split()[0])
        return {
            "memory_total_gb": round(total_kib / 1e6 * 1.024, 1),
            "memory_available_gb": round(available_kib / 1e6 * 1.024, 1),
        }
    except (OSError, KeyError, ValueError):
        pass
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return {}
    return {"memory_total_gb": round(total / 1e9, 1)}


def _uptime_seconds() -> float | None:
    try:
        return float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
