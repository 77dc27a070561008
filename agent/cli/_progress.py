"""The progress bar of long work (`voxagent transcribe`): on a terminal only, never on a pipe."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.long_audio import ProgressHook, TranscriptionProgress

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(
    label: str, seconds: float, *, enabled: bool = True
) -> Iterator[ProgressHook | None]:
    """A hook that moves a rich progress bar (elapsed and remaining time) on stderr while the
    block runs; None (no output at all) when stderr is not a terminal or `enabled` is False."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[audio]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=max(seconds, 1e-6), audio=_minutes(0, seconds))

        def hook(progress: TranscriptionProgress) -> None:
            bar.update(
                task,
                completed=progress.seconds_done,
                audio=_minutes(progress.seconds_done, progress.duration),
            )

        yield hook


def _minutes(done: float, total: float) -> str:
    return f"{done / 60:.1f}/{total / 60:.1f} min"
