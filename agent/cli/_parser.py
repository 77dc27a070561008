"""The `voxagent` argument parser: every command, its options and its help."""

from __future__ import annotations

import argparse
import os
import textwrap
from urllib.parse import urlsplit

from agent.cli._exit import ExitCode
from agent.cli._vllm import DEFAULT_MAX_MODEL_LEN, DEFAULT_MODEL, DEFAULT_PORT, DEFAULT_SERVED_NAME

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "MAX_ASK_FILES",
    "build_parser",
    "parse_command_line",
]

BASE_URL_ENV = "VOXAGENT_BASE_URL"
DEFAULT_BASE_URL = f"http://127.0.0.1:{DEFAULT_PORT}/v1"
MAX_ASK_FILES = 5
"""Voxtral's limit on audio items in one request."""

_EXIT_CODES = "\n".join(f"  {code.value:<4} {code.meaning}" for code in ExitCode)
_DESCRIPTION = """\
Voice agents with Voxtral on vLLM: speech in, tool calls out, no separate speech recogniser.

Start a server with `voxagent serve` (or `voxagent run --serve`), then talk to it with
`voxagent run`. Commands that talk to a server take --base-url (default: $VOXAGENT_BASE_URL,
else http://127.0.0.1:8000/v1)."""


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line; each command sets ``args.command``."""
    parser = argparse.ArgumentParser(
        prog="voxagent",
        description=_DESCRIPTION,
        epilog="exit codes:\n" + _EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debugging details to stderr"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    server = _server_options()
    _add_run(commands, server)
    _add_serve(commands)
    _add_replay(commands, server)
    _add_transcribe(commands, server)
    _add_ask(commands, server)
    _add_devices(commands)
    _add_doctor(commands, server)
    return parser


def parse_command_line(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse `argv`; raises `SystemExit` (status 2) on a usage error, as argparse does.

    Files may come before and after options (`voxagent ask a.wav --json b.wav "Why?"`):
    argparse alone stops a list of positionals at the first option.
    """
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    tail = getattr(args, "positional_tail", None)
    if extras and tail is not None and not any(extra.startswith("-") for extra in extras):
        getattr(args, tail).extend(extras)
    elif extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    details: str,
    parents: list[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=f"{summary}\n\n{textwrap.dedent(details).strip()}",
        parents=parents,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _server_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("server")
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
        type=_base_url,
        help=f"the vLLM server's API root (default: ${BASE_URL_ENV}, else %(default)s)",
    )
    group.add_argument(
        "--model",
        metavar="NAME",
        help="the served model name to use (default: the server's first model)",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_positive_float,
        default=120.0,
        help="seconds one request may take (default: %(default)s)",
    )
    return options


def _tool_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("agent")
    group.add_argument(
        "--tools",
        metavar="MODULE[:ATTR]",
        help="your tools: a Toolbox, a list of tools, or every @tool function of a module "
        "(`myapp.tools:toolbox`, `myapp.tools`, or a path `./my_tools.py`); "
        "default: the built-in tools",
    )
    group.add_argument(
        "--instructions", metavar="TEXT", help="what the agent is told before the conversation"
    )
    group.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="approve every tool call that asks for approval, without asking",
    )
    group.add_argument(
        "--notes-db", metavar="PATH", help="the SQLite file of the built-in notes tools"
    )
    group.add_argument(
        "--tool-choice",
        default="auto",
        metavar="CHOICE",
        help="tool choice of each turn's first model call: auto, required, none, or a tool "
        "name (default: %(default)s)",
    )
    group.add_argument(
        "--log",
        metavar="FILE",
        help="append every turn to this JSONL transcript file",
    )
    return options


def _add_run(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    server: argparse.ArgumentParser,
) -> None:
    run = _command(
        commands,
        "run",
        "the desktop assistant: listen on the microphone and act",
        """
        Checks that the server is ready and has tool calling enabled, then listens. The console
        shows what the assistant hears and does; Ctrl-C stops it at any moment.

        examples:
          voxagent run --serve                 start vLLM here, then listen
          voxagent run --device 2 --log talk.jsonl
          voxagent run --replay question.wav   a recording instead of the microphone
          voxagent run --tools myapp.tools:toolbox
        """,
        [server, _tool_options()],
    )
    audio = run.add_argument_group("audio")
    audio.add_argument(
        "--device",
        metavar="DEVICE",
        help="microphone: index or part of the name (see `voxagent devices`)",
    )
    audio.add_argument(
        "--replay", metavar="FILE", help="read this recording at real time instead of the mic"
    )
    audio.add_argument(
        "--fast", action="store_true", help="with --replay: read the file as fast as possible"
    )
    _add_vad(audio)
    starting = run.add_argument_group("starting a server here (--serve)")
    starting.add_argument(
        "--serve", action="store_true", help="start vLLM on this machine first (see `serve`)"
    )
    _add_vllm_options(starting, model_flag="--serve-model", port_default="the port of --base-url")
    starting.add_argument(
        "vllm_args",
        nargs=argparse.REMAINDER,
        metavar="-- VLLM_ARGS",
        help="with --serve: extra flags for vLLM, after `--`",
    )


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = _command(
        commands,
        "serve",
        "start vLLM for Voxtral with the right flags and wait until it is ready",
        f"""
        Runs `vllm serve` with the Mistral formats, tool calling (auto choice, mistral parser),
        --max-model-len and 5 audio items per prompt, on 127.0.0.1. The server log goes to a
        file; the first start downloads about 5 GB and compiles (minutes). Ctrl-C stops vLLM.
        Extra vLLM flags go after `--`.

        examples:
          voxagent serve
          voxagent serve --port 8001 --max-model-len 8192 -- --enforce-eager
          voxagent serve --print               show the command only

        vLLM is found as: --vllm, then $VOXAGENT_VLLM, then `vllm` on PATH, then
        `python -m vllm.entrypoints.cli.main`. Install it with:
          pip install 'voxtral-agent[serve]'
        (default model: {DEFAULT_MODEL})
        """,
        [],
    )
    _add_vllm_options(serve, model_flag="--model", port_default=str(DEFAULT_PORT))
    serve.add_argument(
        "--print",
        action="store_true",
        dest="print_only",
        help="print the vLLM command and exit without running it",
    )
    serve.add_argument(
        "vllm_args",
        nargs=argparse.REMAINDER,
        metavar="-- VLLM_ARGS",
        help="extra flags for vLLM, after `--`",
    )


def _add_vad(group: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--vad",
        choices=["webrtc", "silero", "both"],
        default="webrtc",
        help="speech detector (default: %(default)s; silero needs onnxruntime)",
    )


def _add_vllm_options(
    group: argparse.ArgumentParser | argparse._ArgumentGroup, *, model_flag: str, port_default: str
) -> None:
    group.add_argument(
        model_flag,
        dest="serve_model",
        default=DEFAULT_MODEL,
        metavar="MODEL",
        help="the Hugging Face model or local folder (default: %(default)s)",
    )
    group.add_argument(
        "--served-model-name",
        metavar="NAME",
        default=DEFAULT_SERVED_NAME,
        help="the name clients use (default: %(default)s)",
    )
    group.add_argument(
        "--host", default="127.0.0.1", help="the address to bind (default: %(default)s)"
    )
    group.add_argument(
        "--port", type=int, default=None, metavar="N", help=f"the port (default: {port_default})"
    )
    group.add_argument(
        "--max-model-len",
        metavar="TOKENS",
        type=int,
        default=DEFAULT_MAX_MODEL_LEN,
        help="context length in tokens; smaller starts faster (default: %(default)s)",
    )
    group.add_argument(
        "--gpu-memory-utilization",
        metavar="SHARE",
        type=float,
        help="share of GPU memory vLLM may take (vLLM's default: 0.92)",
    )
    group.add_argument(
        "--vllm", metavar="COMMAND", help="the command that runs vLLM's CLI (e.g. a venv's vllm)"
    )
    group.add_argument(
        "--server-log",
        metavar="FILE",
        help="where vLLM's output goes (default: vllm-PORT.log in the user's cache folder)",
    )
    group.add_argument(
        "--start-timeout",
        metavar="SECONDS",
        type=_positive_float,
        default=1800.0,
        help="seconds to wait for the server to be ready (default: %(default)s)",
    )
    group.add_argument(
        "--no-gpu-check",
        action="store_true",
        help="start vLLM even when no NVIDIA GPU is found (for a CPU build of vLLM)",
    )


def _add_replay(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    server: argparse.ArgumentParser,
) -> None:
    replay = _command(
        commands,
        "replay",
        "run recordings through the agent, one turn per utterance, and print the turns",
        """
        Each file is cut into utterances as the microphone would be, and each utterance is one
        turn of the same conversation (files in order). Tools run for real; tools that ask for
        approval are refused unless --yes is given.

        examples:
          voxagent replay question.wav
          voxagent replay a.wav b.flac --json --yes
        """,
        [server, _tool_options()],
    )
    replay.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV/FLAC/OGG/MP3)")
    replay.set_defaults(positional_tail="files")
    replay.add_argument("--json", action="store_true", help="one JSON object per turn")
    _add_vad(replay)


def _add_transcribe(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    server: argparse.ArgumentParser,
) -> None:
    transcribe = _command(
        commands,
        "transcribe",
        "transcribe recordings with Voxtral's transcription mode",
        """
        Prints `FILE: text`, one line per file (only the text when there is one file), or
        one JSON object per file with --json.

        examples:
          voxagent transcribe meeting.wav --language fr
        """,
        [server],
    )
    transcribe.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    transcribe.set_defaults(positional_tail="files")
    transcribe.add_argument(
        "--language",
        help="the spoken language (ar nl en fr de hi it pt es; default: detected)",
    )
    transcribe.add_argument("--json", action="store_true", help="one JSON object per file")


def _add_ask(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    server: argparse.ArgumentParser,
) -> None:
    ask = _command(
        commands,
        "ask",
        f"ask a question about up to {MAX_ASK_FILES} recordings in one request",
        """
        The last argument is the question; the files before it are sent with it.

        examples:
          voxagent ask talk1.wav talk2.wav "Which speaker is more inspiring?"
          voxagent ask interview.mp3 "Summarize it in three sentences."
        """,
        [server],
    )
    ask.add_argument(
        "items", nargs="+", metavar="FILE... QUESTION", help="audio files, then the question"
    )
    ask.add_argument("--json", action="store_true", help="print a JSON object")
    ask.set_defaults(positional_tail="items")


def _add_devices(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    devices = _command(
        commands,
        "devices",
        "list the audio input devices and their default rates",
        """
        The number or (part of) the name goes to `voxagent run --device`. The default input
        is marked with *.
        """,
        [],
    )
    devices.add_argument("--json", action="store_true", help="one JSON object per device")


def _add_doctor(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    server: argparse.ArgumentParser,
) -> None:
    doctor = _command(
        commands,
        "doctor",
        "check each piece (packages, PortAudio, microphone, server, tool calling, a round trip)",
        """
        Prints one line per check, and for each failure what to do about it. The exit status
        is 0 when everything needed for `voxagent run` works.
        """,
        [server],
    )
    doctor.add_argument("--device", help="the microphone to check (default: the default input)")


def _base_url(text: str) -> str:
    url = text.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) URL (from --base-url or ${BASE_URL_ENV}); write it "
            f"as http://HOST:PORT/v1, such as {DEFAULT_BASE_URL}"
        )
    return url


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("voxtral-agent")
    except PackageNotFoundError:
        return "unknown"
