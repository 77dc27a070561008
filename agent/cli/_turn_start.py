"""--wake-word and --push-to-talk for the commands: the checked wake word, and the terminal
key that opens and closes a push-to-talk turn."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

from agent.audio import WakeWord
from agent.audio.extras import MissingExtraError
from agent.cli._exit import CliError, ExitCode
from agent.turn_start import WAKE_WINDOW_S, PushToTalk

__all__ = ["TALK_KEYS", "TalkKey", "open_wake_word", "wake_options"]

WAKE_INSTALL = "pip install 'voxtral-agent[wake]'"
"""How a command-line user installs what `--wake-word` needs."""

TALK_KEYS = "Space or Enter"
"""The keys that open and close a push-to-talk turn, as the console names them."""

_TALK_BYTES = frozenset(b" \n\r")


def open_wake_word(args: argparse.Namespace) -> WakeWord | None:
    """The `--wake-word` model, loaded now so a missing extra fails before any server is
    contacted; `CliError` saying how to install it. None without --wake-word."""
    if args.wake_word is None:
        if args.wake_window is not None:
            raise CliError("--wake-window is the window of --wake-word: give both", ExitCode.USAGE)
        return None
    try:
        return WakeWord(args.wake_word)
    except MissingExtraError:
        raise CliError(
            f"--wake-word {args.wake_word}: the wake word detector cannot run here, "
            f"pymicro-wakeword is missing: install it with {WAKE_INSTALL} (its wheels exist "
            "for Linux x86_64/aarch64 and Windows)",
            ExitCode.NOT_INSTALLED,
        ) from None


def wake_options(args: argparse.Namespace, wake: WakeWord | None) -> dict[str, Any]:
    """The `listen`/`replay_async` keywords of --wake-word and --wake-window."""
    if wake is None:
        return {}
    window = WAKE_WINDOW_S if args.wake_window is None else args.wake_window
    return {"wake_word": wake, "wake_window_s": window}


class TalkKey:
    """Space or Enter in the terminal toggles a `PushToTalk`; read without blocking the loop
    (the terminal in cbreak mode, its input watched by the event loop) within `watching()`;
    `paused()` gives the terminal back for a prompt.

    Raises:
        CliError: standard input is no terminal (checked at construction).
    """

    def __init__(self, push_to_talk: PushToTalk, *, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdin
        if os.name != "posix" or not (self.stream and self.stream.isatty()):
            raise CliError(
                "--push-to-talk reads the Space and Enter keys of a terminal: run it in one "
                "(standard input is not a terminal here), or use --wake-word",
                ExitCode.USAGE,
            )
        self.push_to_talk = push_to_talk
        self._fd = self.stream.fileno()
        self._saved: list[Any] | None = None

    @contextlib.contextmanager
    def watching(self) -> Iterator[TalkKey]:
        """The keys are read (inside the running event loop) until the block ends."""
        self._watch()
        try:
            yield self
        finally:
            self._unwatch()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The terminal as it was (line input, echo) while a question is asked."""
        watching = self._saved is not None
        self._unwatch()
        try:
            yield
        finally:
            if watching:
                self._watch()

    def _watch(self) -> None:
        import termios
        import tty

        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)  # keys one by one, no echo; Ctrl-C still interrupts
        asyncio.get_running_loop().add_reader(self._fd, self._read)

    def _unwatch(self) -> None:
        if self._saved is None:
            return
        import termios

        asyncio.get_running_loop().remove_reader(self._fd)
        termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
        self._saved = None

    def _read(self) -> None:
        try:
            keys = os.read(self._fd, 64)
        except OSError:
            return
        for key in keys:
            if key in _TALK_BYTES:
                self.push_to_talk.toggle()
