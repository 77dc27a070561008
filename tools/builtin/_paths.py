"""Where the built-in tools keep their files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["user_data_dir"]


def user_data_dir() -> Path:
    """The per-user data folder of voxagent (not created here).

    ``$VOXAGENT_DATA_DIR`` if set; else the platform's place: ``$XDG_DATA_HOME/voxagent`` or
    ``~/.local/share/voxagent`` on Linux, ``~/Library/Application Support/voxagent`` on macOS,
    ``%APPDATA%\\voxagent`` on Windows.
    """
    explicit = os.environ.get("VOXAGENT_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "voxagent"
