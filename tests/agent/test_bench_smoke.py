import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "agent_overhead.py"


def test_the_overhead_benchmark_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--turns", "3", "--concurrency", "1,2", "--turns-each", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "added by the Agent" in result.stdout
    assert "N=  2" in result.stdout
