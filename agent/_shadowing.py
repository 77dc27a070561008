"""A user's own `tools.py` or `tools/` beside their app hides this project's `tools` package.

Python finds the app's folder first, so `from tools import ...` inside `agent` would fail with
an obscure `ImportError: cannot import name ...`. Checked once, when `agent` is imported,
without importing anything: the `tools` that Python would load must be the one installed
beside this `agent` package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["check_not_shadowed"]


def check_not_shadowed() -> None:
    """Raise `ImportError` naming the file when another `tools` hides this project's."""
    ours = Path(__file__).resolve().parent.parent / "tools" / "__init__.py"
    try:
        spec = importlib.util.find_spec("tools")
    except (ImportError, ValueError):  # a broken `tools` module of the app's own
        spec = None
    if spec is None:
        return  # no `tools` at all: the import itself will say so
    found = Path(spec.origin).resolve() if spec.origin else None
    if found == ours:
        return
    folders = list(spec.submodule_search_locations or [])
    where = str(found) if found is not None else " or ".join(folders) or "another module"
    raise ImportError(
        f"voxtral-agent's `tools` package is hidden by {where}: Python imports it first "
        "because it sits in the app's folder (or earlier on sys.path). Rename your tools.py "
        "(or tools/ folder), for example to my_tools.py, and import it by that name"
    )
