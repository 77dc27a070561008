"""The `voxagent` command line."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `voxagent` command (placeholder until the CLI lands)."""
    print("usage: voxagent {run,serve,replay,transcribe,ask,devices,doctor} ...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
