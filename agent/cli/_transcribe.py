"""`voxagent transcribe FILE...` and `voxagent ask FILE... QUESTION [FILE... QUESTION ...]`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from agent.cli._agent_setup import agent_for
from agent.cli._exit import CliError, ExitCode, as_cli_error, describe, exit_code_for
from agent.cli._progress import progress_bar
from agent.cli._server import check_server
from agent.clips import Clip
from agent.errors import VoxagentError
from agent.limits import MAX_AUDIO_ITEMS
from tools._threads import run_blocking

if TYPE_CHECKING:
    from agent.long_audio import Transcript

__all__ = [
    "SUMMARY_PROMPT",
    "Question",
    "ask_command",
    "parse_questions",
    "transcribe_command",
]

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
    """Write each file's transcript: the text (`FILE: text` for several files), JSON, or
    subtitles, to standard output or `-o FILE`."""
    from agent.long_audio import Recording

    fmt = "lines" if args.json else args.format
    if args.output and len(args.files) > 1:
        raise _usage("-o FILE takes one recording; transcribe the files one at a time")
    piece = _piece_seconds(args.piece_seconds, fmt)
    if args.in_flight < 1:
        raise _usage(f"--in-flight must be 1 or more, got {args.in_flight}")
    recordings = await _failing_cleanly(
        run_blocking(lambda: [Recording(path) for path in args.files])
    )
    info = await check_server(args.base_url, args.model, tool_calling=False)
    outputs: list[str] = []
    async with agent_for(info, timeout=args.timeout) as agent:
        for path, recording in zip(args.files, recordings, strict=True):
            with progress_bar(path, recording.duration, enabled=not args.json) as hook:
                transcript = await _failing_cleanly(
                    agent.transcribe(
                        path,
                        language=args.language,
                        max_piece_seconds=piece,
                        max_in_flight=args.in_flight,
                        on_progress=hook,
                        shorten_pauses=fmt not in ("srt", "vtt"),
                    )
                )
            text = _formatted(transcript, fmt, path, several=len(args.files) > 1)
            if args.output:
                outputs.append(text)
            else:
                print(text, end="", flush=True)
            if not transcript.strip():
                _note(f"{path}: the transcript is empty (the model heard no words)")
    if args.output:
        Path(args.output).write_text("".join(outputs), encoding="utf-8")
    return ExitCode.OK


def _piece_seconds(given: float | None, fmt: str) -> float | None:
    from agent.limits import MAX_AUDIO_SECONDS

    if given is None:
        return _SUBTITLE_PIECE_SECONDS if fmt in ("srt", "vtt") else None
    if not 30.0 <= given <= MAX_AUDIO_SECONDS:
        raise _usage(
            f"--piece-seconds must be between 30 and {MAX_AUDIO_SECONDS:.0f}, got {given:g}"
        )
    return given


_SUBTITLE_PIECE_SECONDS = 30.0
"""Pieces for subtitles: a cue is a piece (vLLM gives Voxtral no timestamps inside one), and a
30 s cue is the longest that stays readable; each piece still costs one 30 s token block."""


def _formatted(transcript: Transcript, fmt: str, path: str, *, several: bool) -> str:
    if fmt == "lines":  # --json: one line per file, as before segments existed
        record = {"file": path, "language": transcript.language, "text": transcript.text}
        return json.dumps(record, ensure_ascii=False) + "\n"
    if fmt == "json":
        record = {"file": path, **transcript.to_dict()}
        return json.dumps(record, ensure_ascii=False) + "\n"
    if fmt in ("srt", "vtt"):
        return transcript.to_subtitles("srt" if fmt == "srt" else "vtt")
    return f"{path}: {transcript.text}\n" if several else transcript.text + "\n"


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


SUMMARY_PROMPT = (
    "Summarize this recording as a structured summary with three sections. Topics: the "
    "subjects discussed, in the order they came up. Decisions: what was agreed or decided. "
    "Action items: who will do what, and by when if it was said. Use short bullet points, "
    "and write 'none' under a section with nothing in it."
)
"""The question `voxagent ask --summary` asks."""


async def ask_command(args: argparse.Namespace) -> ExitCode:
    """Send each group of recordings with its question (one conversation); print the answers.

    A recording over one item's limit goes as several items cut at pauses; the time ranges
    sent are shown (on stderr, or as `sent` with --json).
    """
    questions = _summary_question(args.items) if args.summary else parse_questions(args.items)
    groups = [await _load_group(question.files) for question in questions]
    info = await check_server(args.base_url, args.model, tool_calling=False)
    async with agent_for(info, timeout=args.timeout, transcribe_turns=False) as agent:
        for question, pairs in zip(questions, groups, strict=True):
            clips = [clip for _, clip in pairs]
            sent = [_sent(path, clip) for path, clip in pairs]
            if not args.json and any(clip.source_range for clip in clips):
                ranges = ", ".join(f"{item['file']} {item['range']}" for item in sent)
                _note(f"sent {len(clips)} audio item(s): {ranges}")
            turn = await _failing_cleanly(agent.run(clips, text=question.question))
            if args.json:
                record = {
                    "files": question.files,
                    "question": question.question,
                    "answer": turn.text,
                    "usage": turn.to_dict()["usage"],
                    "sent": sent,
                }
                print(json.dumps(record, ensure_ascii=False), flush=True)
                continue
            if len(questions) > 1:
                print(f"Q: {question.question}", flush=True)
            print(turn.text if len(questions) == 1 else f"A: {turn.text}", flush=True)
            if not turn.text.strip():
                _note(f"the model's answer to {question.question!r} is empty")
    return ExitCode.OK


def _summary_question(items: Sequence[str]) -> list[Question]:
    """`ask FILE... --summary`: the files, with the ready summary prompt as the question."""
    for item in items:
        if not _is_file(item):
            raise _usage(
                f"--summary asks its own question: give only audio files ({item!r} is not a "
                "file), or leave --summary out and ask yours"
            )
    if len(items) > MAX_AUDIO_ITEMS:
        raise _usage(f"--summary takes 1 to {MAX_AUDIO_ITEMS} files, got {len(items)}")
    return [Question(list(items), SUMMARY_PROMPT)]


async def _load_group(paths: list[str]) -> list[tuple[str, Clip]]:
    """One question's recordings as audio items, each with its file (a long one cut at
    pauses into several), in a worker thread, before anything is sent."""
    from agent.long_audio import load_turn_clips

    def load() -> list[tuple[str, Clip]]:
        pairs: list[tuple[str, Clip]] = []
        for path in paths:
            left = MAX_AUDIO_ITEMS - len(pairs)
            pairs.extend((path, clip) for clip in load_turn_clips(path, max_items=max(1, left)))
        return pairs

    return await _failing_cleanly(run_blocking(load))


def _sent(path: str, clip: Clip) -> dict[str, object]:
    from agent.long_audio import clock

    start, end = clip.source_range or (0.0, clip.duration)
    return {"file": path, "start": start, "end": end, "range": f"{clock(start)}–{clock(end)}"}


def _note(text: str) -> None:
    print(f"voxagent: {text}", file=sys.stderr, flush=True)


async def _failing_cleanly(request: Awaitable[_T]) -> _T:
    from agent.long_audio import PieceFailedError

    try:
        return await request
    except PieceFailedError as error:  # the exit code of what made the piece fail
        raise CliError(describe(error), exit_code_for(error.cause)) from None
    except VoxagentError as error:
        raise as_cli_error(error) from None
