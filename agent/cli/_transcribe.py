"""`voxagent transcribe FILE...` and `voxagent ask FILE... QUESTION [FILE... QUESTION ...]`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from agent.cli._agent_setup import agent_for
from agent.cli._exit import CliError, ExitCode, as_cli_error
from agent.cli._server import check_server
from agent.clips import MAX_AUDIO_ITEMS, Clip, load_clip
from agent.errors import VoxagentError
from tools._threads import run_blocking

__all__ = ["Question", "ask_command", "parse_questions", "transcribe_command"]

_T = TypeVar("_T")

AUDIO_SUFFIXES = frozenset(
    [
        ".wav",
        ".wave",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".m4a",
        ".aac",
        ".aif",
        ".aiff",
        ".au",
        ".caf",
        ".w64",
        ".webm",
    ]
)
"""Endings that make a `voxagent ask` argument a file even when it does not exist (so a
missing recording is reported as one, not taken as the question)."""

_USAGE = "voxagent ask FILE... QUESTION [FILE... QUESTION ...]"


async def transcribe_command(args: argparse.Namespace) -> ExitCode:
    """Print each file's transcript (`FILE: text`, or the text alone for one file)."""
    clips = await _load_all(args.files)
    info = await check_server(args.base_url, args.model, tool_calling=False)
    async with agent_for(info, timeout=args.timeout) as agent:
        for path, clip in zip(args.files, clips, strict=True):
            text = await _failing_cleanly(agent.transcribe(clip, language=args.language))
            if args.json:
                record = {"file": path, "language": args.language, "text": text}
                print(json.dumps(record, ensure_ascii=False), flush=True)
                continue
            print(text if len(clips) == 1 else f"{path}: {text}", flush=True)
            if not text.strip():
                _note(f"{path}: the transcript is empty (the model heard no words)")
    return ExitCode.OK


@dataclass(frozen=True, slots=True)
class Question:
    """One request of `voxagent ask`: recordings, and the question asked about them."""

    files: list[str]
    question: str


def parse_questions(items: Sequence[str]) -> list[Question]:
    """`FILE... QUESTION [FILE... QUESTION ...]`: each argument that names a file (it exists,
    or it is one word ending in an audio suffix) is a recording, any other is the question
    about the recordings before it.

    Raises:
        CliError: (usage) a question without recordings before it, recordings without a
            question after them, or more recordings than one request takes; the message says
            which argument was taken for what.
    """
    questions: list[Question] = []
    files: list[str] = []
    for item in items:
        if _is_file(item):
            files.append(item)
            continue
        if not files:
            raise _usage(
                f"give one or more audio files before each question: {item!r} was taken as a "
                f"question, and no file comes before it ({_USAGE})"
            )
        if not item.strip():
            raise _usage(f"the question after {', '.join(files)} is empty ({_USAGE})")
        if len(files) > MAX_AUDIO_ITEMS:
            raise _usage(
                f"{len(files)} files before {item!r}: Voxtral takes at most {MAX_AUDIO_ITEMS} "
                "recordings in one request; ask about fewer at a time"
            )
        questions.append(Question(files, item))
        files = []
    if files:
        taken = (
            "it was taken as an audio file" if len(files) == 1 else "they were taken as audio files"
        )
        raise _usage(
            f"no question after {', '.join(files)} ({taken}: {_USAGE}); the question goes last"
        )
    return questions


def _is_file(item: str) -> bool:
    """An existing file; or one word ending in an audio suffix ("Summarize a.wav" is a
    question, "talk.wav" a recording even if it is missing)."""
    path = Path(item)
    if path.is_file():
        return True
    return path.suffix.lower() in AUDIO_SUFFIXES and len(item.split()) == 1


def _usage(message: str) -> CliError:
    return CliError(message, ExitCode.USAGE)


async def ask_command(args: argparse.Namespace) -> ExitCode:
    """Send each group of recordings with its question (one conversation); print the answers."""
    questions = parse_questions(args.items)
    clips = await _load_all([path for question in questions for path in question.files])
    info = await check_server(args.base_url, args.model, tool_calling=False)
    async with agent_for(info, timeout=args.timeout, transcribe_turns=False) as agent:
        for question in questions:
            mine, clips = clips[: len(question.files)], clips[len(question.files) :]
            turn = await _failing_cleanly(agent.run(mine, text=question.question))
            if args.json:
                record = {
                    "files": question.files,
                    "question": question.question,
                    "answer": turn.text,
                    "usage": turn.to_dict()["usage"],
                }
                print(json.dumps(record, ensure_ascii=False), flush=True)
                continue
            if len(questions) > 1:
                print(f"Q: {question.question}", flush=True)
            print(turn.text if len(questions) == 1 else f"A: {turn.text}", flush=True)
            if not turn.text.strip():
                _note(f"the model's answer to {question.question!r} is empty")
    return ExitCode.OK


def _note(text: str) -> None:
    print(f"voxagent: {text}", file=sys.stderr, flush=True)


async def _load_all(paths: list[str]) -> list[Clip]:
    """Every file decoded and checked (in a worker thread) before anything is sent."""

    def load() -> list[Clip]:
        return [load_clip(path, name=path) for path in paths]

    try:
        return await run_blocking(load)
    except VoxagentError as error:
        raise as_cli_error(error) from None


async def _failing_cleanly(request: Awaitable[_T]) -> _T:
    try:
        return await request
    except VoxagentError as error:
        raise as_cli_error(error) from None
