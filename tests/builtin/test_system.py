import os

from tools import Toolbox
from tools.builtin import system_info


async def test_reports_the_machine() -> None:
    result = await Toolbox([system_info]).call("system_info", {})
    assert result.ok, result.content
    info = result.value
    assert info["cpu_count"] == os.cpu_count()
    assert info["disk_total_gb"] >= info["disk_free_gb"] >= 0
    assert info["python"].count(".") == 2
    assert info["memory_total_gb"] > 0
