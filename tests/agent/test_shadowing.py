"""A user's own `tools.py` or `tools/` beside the app: one clear message, not an obscure one."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def import_agent_in(folder: Path) -> subprocess.CompletedProcess[str]:
    # The app's folder comes first on sys.path, as it does for `python app.py` there.
    code = f"import sys; sys.path[:0] = [{str(folder)!r}, {str(ROOT)!r}]; import agent"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=folder, timeout=60
    )


@pytest.mark.parametrize("kind", ["file", "package"])
def test_a_shadowing_tools_module_is_named_with_the_fix(tmp_path: Path, kind: str) -> None:
    if kind == "file":
        (tmp_path / "tools.py").write_text("def my_tool(): ...\n")
    else:
        (tmp_path / "tools").mkdir()
        (tmp_path / "tools" / "__init__.py").write_text("")
    result = import_agent_in(tmp_path)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: voxtral-agent's `tools` package is hidden by")
    assert str(tmp_path / "tools") in last
    assert "Rename your tools.py" in last
    assert "NAME_PATTERN" not in result.stderr


def test_no_shadow_imports_fine(tmp_path: Path) -> None:
    (tmp_path / "my_tools.py").write_text("x = 1\n")
    (tmp_path / "tools").mkdir()  # a plain folder (no __init__.py) hides no regular package
    assert import_agent_in(tmp_path).returncode == 0
