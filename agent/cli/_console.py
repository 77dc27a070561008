"""The live console of `voxagent run`: what the assistant hears, thinks and does.

Finished things (your turn, each tool call with its result, the reply, a timer ringing) are
printed as lines that scroll; below them a live panel shows the current state (listening,
hearing, thinking, running a tool; with a wake word, sleeping or awake; with push-to-talk,
whether the key opened a turn) and the input level meter. While the panel is shown, log
records (a retry warning, say) are printed through the same console, above the panel: written
straight to the terminal they would split it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.spinner import Spinner
from rich.text import Text

from agent.cli._exit import describe, one_line
from agent.events import (
    AgentEvent,
    Asleep,
    Awake,
    ReplyText,
    SpeakingFinished,
    SpeakingInterrupted,
    SpeakingStarted,
    SpeechStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    TurnTranscribed,
    UtteranceDropped,
    UtteranceEnded,
)
from agent.speech import Speaker
from tools import ToolResult
from tools._threads import run_blocking
from tools.builtin import Timer, TimerService

if TYPE_CHECKING:
    from agent.cli._turn_start import TalkKey
    from agent.turn_start import PushToTalk

__all__ = ["LiveConsole", "format_arguments", "format_tool_result"]

_METER_CELLS = 24
_METER_FLOOR_DBFS = -60.0
_RESULT_CHARS = 160


class LiveConsole:
    """Shows a conversation as it happens; use as a context manager around the listening loop.

    Args:
        console: where to draw (a terminal gets the live panel; a pipe gets the lines only).
        title: the panel's title (the server and model).
        auto_approve: approve every tool call that asks, without asking (`--yes`).
        live: show the live panel (False: only the lines, as `voxagent replay` prints them).
        timers: pending timers to show in the panel (its listener is `timer_rang`).
        idle_hint: what the panel says while no turn runs.
        wake_word: the wake word to say (`WakeWord.phrase`), with `listen(wake_word=...)`:
            the panel shows whether the assistant sleeps (it starts asleep).
        push_to_talk: with `listen(push_to_talk=...)`: the panel shows whether a turn is
            open, and `talk_keys` (the keys that toggle it).
    """

    def __init__(
        self,
        console: Console,
        *,
        title: str,
        auto_approve: bool = False,
        live: bool = True,
        timers: TimerService | None = None,
        idle_hint: str = "speak when you are ready",
        wake_word: str | None = None,
        push_to_talk: PushToTalk | None = None,
        talk_keys: str = "Space",
    ) -> None:
        self.console = console
        self.idle_hint = idle_hint
        self.timers = timers
        self.title = title
        self.auto_approve = auto_approve
        self._live: Live | None = None
        if live:
            self._live = Live(_Panel(self), console=console, refresh_per_second=12, transient=True)
        self._level = _METER_FLOOR_DBFS
        self._speech = False
        self._hearing = False
        self._turn: int | None = None
        self._turns_started = 0
        self._queued = 0
        self._running: dict[str, str] = {}
        self._reply = ""
        self._approval_lock = asyncio.Lock()
        self._logs = _LogsAbovePanel(console)
        self.speaker: Speaker | None = None
        """The assistant's speaker (its level is shown while it speaks)."""
        self._speaking = False
        self.wake_word = wake_word
        self._asleep = wake_word is not None
        self.push_to_talk = push_to_talk
        self.talk_keys = talk_keys
        self.keys: TalkKey | None = None
        """The push-to-talk key reader, paused while a question is asked."""
        self.turns = 0
        self.failures = 0

    def __enter__(self) -> LiveConsole:
        if self._live is not None:
            if self.console.is_terminal:
                self._logs.install()
            self._live.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._logs.remove()

    # -- inputs -------------------------------------------------------------------------

    def level(self, level_dbfs: float, is_speech: bool) -> None:
        """The endpointer's per-frame hook: feeds the level meter."""
        self._level = level_dbfs
        self._speech = is_speech

    def show(self, event: AgentEvent) -> None:
        """Print or display one event of the conversation."""
        if isinstance(event, SpeechStarted):
            self._hearing = True
        elif isinstance(event, UtteranceEnded):
            self._hearing = False
            self._queued += 1
        elif isinstance(event, UtteranceDropped):
            self._hearing = False
            self.console.print(
                f"[yellow]! dropped {event.utterance.speech_duration:.1f} s of speech at "
                f"{event.utterance.start:.1f} s: {escape(event.reason)}[/]"
            )
        elif isinstance(event, TurnStarted):
            self._begin_turn(event)
        elif isinstance(event, ToolCallStarted):
            self._running[event.call_id or event.name] = event.name
        elif isinstance(event, ToolCallFinished):
            self._running.pop(event.result.call_id or event.result.name, None)
            self.console.print(f"  {format_tool_result(event.result)}")
        elif isinstance(event, ReplyText):
            self._reply += event.delta
        elif isinstance(event, SpeakingStarted):
            self._speaking = True
        elif isinstance(event, SpeakingFinished):
            self._speaking = False
        elif isinstance(event, SpeakingInterrupted):
            self._speaking = False
            self.console.print(
                f"  [yellow]interrupted; you heard:[/] [italic]{escape(event.heard or '…')}[/]"
            )
        elif isinstance(event, TurnFinished):
            self._end_turn()
            turn = event.turn
            self.turns += 1
            reply = turn.text or self._reply
            shown = escape(reply) if reply.strip() else "[dim](no reply)[/]"
            self.console.print(f"[bold green]assistant[/] {shown}")
            self._reply = ""
        elif isinstance(event, TurnTranscribed) and event.transcript:  # beside the turn
            self.console.print(f"  [dim]heard:[/] [italic]{escape(event.transcript)}[/]")
        elif isinstance(event, Awake | Asleep):
            self._wake_state(event)
        elif isinstance(event, TurnFailed):
            self._end_turn()
            self.failures += 1
            where = f" (speech at {event.utterance.start:.1f} s)" if event.utterance else ""
            self.console.print(
                f"[bold red]turn failed{where}:[/] [red]{escape(_explain(event.error))}[/]"
            )
            self._reply = ""

    def timer_rang(self, timer: Timer) -> None:
        """Announce a timer or alarm that fired (`TimerService` listener)."""
        label = f" {timer.label!r}" if timer.label else ""
        if self.console.is_terminal:
            self.console.bell()
        self.console.print(
            f"[bold yellow]⏰ {timer.kind}{escape(label)} is ringing[/] "
            f"[dim](due {timer.due.strftime('%H:%M:%S')})[/]"
        )

    async def approve(self, name: str, arguments: dict[str, Any]) -> bool:
        """The `Toolbox` approver: asks in the terminal (or approves all with `--yes`)."""
        call = f"{name}({format_arguments(arguments)})"
        if self.auto_approve:
            self.console.print(f"  [dim]approved {escape(call)} (--yes)[/]")
            return True
        if not (sys.stdin and sys.stdin.isatty()):
            self.console.print(
                f"  [yellow]refused {escape(call)}: it needs approval and there is no terminal "
                "to ask (use --yes to approve tool calls)[/]"
            )
            return False
        keys = self.keys.paused() if self.keys is not None else contextlib.nullcontext()
        async with self._approval_lock:
            if self._live is not None:
                self._live.stop()
            try:
                with keys:
                    answer = await _ask(
                        self.console, f"[bold]Allow {escape(call)}?[/] {escape('[y/N]')} "
                    )
            finally:
                if self._live is not None:
                    self._live.start()
        return answer.strip().lower() in ("y", "yes")

    # -- state --------------------------------------------------------------------------

    def _begin_turn(self, event: TurnStarted) -> None:
        self._queued = max(0, self._queued - 1)
        self._turns_started += 1
        self._turn = self._turns_started
        self._reply = ""
        parts = []
        if event.utterance is not None:
            parts.append(
                f"{event.utterance.speech_duration:.1f} s of speech at "
                f"{event.utterance.start:.1f} s"
            )
        if event.text:
            parts.append(escape(event.text))
        detail = ", ".join(parts) or "text"
        self.console.print(f"[bold cyan]you[/] [dim](turn {self._turn}: {detail})[/]")

    def _wake_state(self, event: Awake | Asleep) -> None:
        said = escape(f"“{self.wake_word or '?'}”")
        if isinstance(event, Awake):
            self._asleep = False
            self.console.print(f"[dim]◉ awake at {event.at:.1f} s: heard {said}[/]")
        else:
            self._asleep = True
            self.console.print(f"[dim]◌ asleep from {event.at:.1f} s: say {said} to wake it[/]")

    def _state(self) -> str:
        """The first words of the panel: what the assistant is doing with what it hears."""
        if self.push_to_talk is not None:
            if self.push_to_talk.talking:
                return f"[bold magenta]● talking[/] [dim]({escape(self.talk_keys)} to send)[/]"
            return f"[green]○ press {escape(self.talk_keys)} to talk[/]"
        if self._hearing:
            return "[bold magenta]● hearing[/]" + (" [dim](asleep)[/]" if self._asleep else "")
        if self._asleep:
            return f"[blue]◌ sleeping[/] [dim](say “{escape(self.wake_word or '')}”)[/]"
        return "[green]○ listening[/]" + (" [dim](awake)[/]" if self.wake_word else "")

    def _end_turn(self) -> None:
        self._turn = None
        self._running.clear()

    def _doing(self) -> RenderableType:
        if self._running:
            doing = f"running {escape(', '.join(sorted(set(self._running.values()))))}"
        else:
            doing = "thinking…"
        if self._reply:
            doing += f"  [dim]{escape(self._reply[-80:])}[/]"
        queued = f" [dim]({self._queued} waiting)[/]" if self._queued else ""
        return Spinner("dots", Text.from_markup(f"{doing}{queued}"))

    def render(self) -> RenderableType:
        """The live panel's current content."""
        meter = _meter(self._level, self._speech)
        rows: list[RenderableType] = [Text.from_markup(f"{self._state()}  {meter}")]
        if self._speaking:
            level = self.speaker.level_dbfs if self.speaker is not None else _METER_FLOOR_DBFS
            rows.append(Text.from_markup(f"[bold green]◀ speaking[/]  {_meter(level, True)}"))
        if self._turn is not None and not self._speaking:
            rows.append(self._doing())
        elif self._turn is None:
            rows.append(Text.from_markup(f"[dim]{escape(self.idle_hint)} · Ctrl-C quits[/]"))
        if self.timers is not None and (pending := self.timers.pending()):
            shown = ", ".join(
                f"{escape(timer.label or timer.kind)} in {_clock(timer.seconds_left())}"
                for timer in pending[:3]
            )
            more = f" and {len(pending) - 3} more" if len(pending) > 3 else ""
            rows.append(Text.from_markup(f"[yellow]⏲ {shown}{more}[/]"))
        # Two columns short of the edge: the terminal's "^C" echo then cannot wrap the cursor to
        # a new line, which would leave the panel's top border behind when it is erased.
        width = max(20, self.console.width - 2)
        return Panel(Group(*rows), title=escape(self.title), title_align="left", width=width)


async def _ask(console: Console, prompt: str) -> str:
    """Read a line in a daemon worker thread: a Ctrl-C while the user is asked must not wait
    for them (`asyncio.to_thread`'s executor is joined when `asyncio.run` ends)."""

    def read() -> str:
        try:
            return console.input(prompt)
        except (EOFError, OSError):
            return ""

    return await run_blocking(read)


class _LogsAbovePanel(logging.Handler):
    """Stands in for the root logger's handlers while the live panel is shown: each record is
    printed by the panel's console (above the panel), formatted as those handlers would."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self._console = console
        self._replaced: list[logging.Handler] = []

    def install(self) -> None:
        root = logging.getLogger()
        self._replaced = list(root.handlers)
        formatter = next((h.formatter for h in self._replaced if h.formatter), None)
        self.setFormatter(formatter or logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.setLevel(min((h.level for h in self._replaced), default=logging.NOTSET))
        root.handlers = [self]

    def remove(self) -> None:
        root = logging.getLogger()
        if self in root.handlers:
            root.handlers = self._replaced
        self._replaced = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = Text(self.format(record), style="yellow" if record.levelno >= 30 else "dim")
            self._console.print(line)
        except Exception:
            self.handleError(record)


class _Panel:
    """Re-rendered on every refresh of `Live`, so the panel follows the console's state."""

    def __init__(self, console: LiveConsole) -> None:
        self._console = console

    def __rich__(self) -> RenderableType:
        return self._console.render()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _meter(level_dbfs: float, speech: bool) -> str:
    share = (max(_METER_FLOOR_DBFS, min(0.0, level_dbfs)) - _METER_FLOOR_DBFS) / -_METER_FLOOR_DBFS
    filled = round(share * _METER_CELLS)
    color = "magenta" if speech else "blue"
    bar = f"[{color}]{'█' * filled}[/][dim]{'·' * (_METER_CELLS - filled)}[/]"
    level = "silence" if level_dbfs <= -90.0 else f"{level_dbfs:.1f} dBFS"
    return f"{bar} [dim]{level:>10}[/]"


def format_arguments(arguments: dict[str, Any]) -> str:
    """``a=1, b='x'``: a call's arguments as they read best in one line."""
    return ", ".join(f"{key}={value!r}" for key, value in arguments.items())


def format_tool_result(result: ToolResult) -> str:
    """One line of markup: the call, and its result or its error."""
    call = escape(f"{result.name}({format_arguments(result.arguments)})")
    seconds = f"[dim]({result.duration:.2f} s)[/]"
    if result.ok:
        return f"[blue]⚙ {call}[/] → {escape(_clip(_as_text(result)))} {seconds}"
    return f"[red]⚙ {call} ✗ {escape(_clip(result.content))}[/] {seconds}"


def _as_text(result: ToolResult) -> str:
    if isinstance(result.value, str):
        return result.value
    try:
        return json.dumps(result.to_dict()["value"], ensure_ascii=False)
    except (TypeError, ValueError):
        return result.content


def _clip(text: str) -> str:
    return one_line(text, _RESULT_CHARS)


def _explain(error: BaseException) -> str:
    """The error in one line, with the fix where the server's words do not give it."""
    text = describe(error)
    if "maximum context length" in text:
        text += (
            " (the tool schemas, instructions and audio do not fit the server's context: "
            "give fewer tools with --tools, or start vLLM with a larger --max-model-len)"
        )
    return text
