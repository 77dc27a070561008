"""The console while the assistant speaks: "speaking" with the output level, what was heard."""

from __future__ import annotations

import io

from rich.console import Console

from agent.cli._console import LiveConsole
from agent.events import SpeakingFinished, SpeakingInterrupted, SpeakingStarted


class FixedLevel:
    level_dbfs = -12.0


def test_speaking_shows_the_output_level_and_what_was_heard() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None, highlight=False)
    live = LiveConsole(console, title="t", live=False)
    live.speaker = FixedLevel()  # type: ignore[assignment]

    def panel() -> str:
        shown = io.StringIO()
        Console(file=shown, width=100, color_system=None).print(live.render())
        return shown.getvalue()

    assert "speaking" not in panel()
    live.show(SpeakingStarted("Hello there."))
    assert "◀ speaking" in panel() and "-12.0 dBFS" in panel()
    live.show(SpeakingFinished("Hello there."))
    assert "speaking" not in panel()
    live.show(SpeakingStarted("One two three."))
    live.show(SpeakingInterrupted("One two", "One two three."))
    assert "speaking" not in panel()
    assert "interrupted; you heard: One two" in out.getvalue()
