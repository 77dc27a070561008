"""`voxagent transcribe FILE...` and `voxagent ask FILE... QUESTION`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable
from typing import TypeVar

from agent.cli._agent_setup import agent_for
from agent.cli._exit import CliError, ExitCode
from agent.cli._parser import MAX_ASK_FILES
from agent.cli._server import check_server
from agent.clips import Clip, load_clip
from agent.errors import BadAudioError, ServerUnavailableError, VoxagentError

__all__ = ["ask_command", "transcribe_command"]

_T = TypeVar("_T")


async def transcribe_command(args: argparse.Namespace) -> ExitCode:
    """Print each file's transcript (`FILE: text`, or the text alone for one file)."""
    clips = _load_all(args.files)
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


async def ask_command(args: argparse.Namespace) -> ExitCode:
    """Send up to 5 recordings and a question in one request; print the answer."""
    *files, question = args.items
    if not files or not question.strip():
        raise CliError(
            'give one or more audio files, then the question: voxagent ask talk.wav "Summarize it"',
            ExitCode.USAGE,
        )
    if len(files) > MAX_ASK_FILES:
        raise CliError(
            f"{len(files)} files: Voxtral takes at most {MAX_ASK_FILES} recordings in one "
            "request; ask about fewer at a time",
            ExitCode.USAGE,
        )
    clips = _load_all(files)
    info = await check_server(args.base_url, args.model, tool_calling=False)
    async with agent_for(info, timeout=args.timeout, transcribe_turns=False) as agent:
        turn = await _failing_cleanly(agent.run(clips, text=question))
    if args.json:
        record = {
            "files": files,
            "question": question,
            "answer": turn.text,
            "usage": turn.to_dict()["usage"],
        }
        print(json.dumps(record, ensure_ascii=False))
    else:
        print(turn.text)
        if not turn.text.strip():
            _note("the model's answer is empty")
    return ExitCode.OK


def _note(text: str) -> None:
    print(f"voxagent: {text}", file=sys.stderr, flush=True)


def _load_all(paths: list[str]) -> list[Clip]:
    """Every file decoded and checked before anything is sent."""
    clips = []
    for path in paths:
        try:
            clips.append(load_clip(path, name=path))
        except BadAudioError as error:
            raise CliError(str(error), ExitCode.BAD_INPUT) from None
    return clips


async def _failing_cleanly(request: Awaitable[_T]) -> _T:
    try:
        return await request
    except ServerUnavailableError as error:
        raise CliError(str(error), ExitCode.SERVER_UNAVAILABLE) from None
    except VoxagentError as error:
        raise CliError(str(error), ExitCode.FAILURE) from None
