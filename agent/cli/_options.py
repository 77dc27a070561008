"""The option groups the commands share (server, agent, audio, vLLM) and their value checks.

Each `add_*` function adds one group to a command's parser. Nothing here imports the HTTP
stack: the defaults that live in the library are read when a command's parser is built (see
`agent.cli._parser`), which `voxagent --help` never does.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from agent.backend import BASE_URL_ENV, DEFAULT_BASE_URL, resolve_base_url
from agent.cli._vllm import DEFAULT_MAX_MODEL_LEN, DEFAULT_MODEL, DEFAULT_SERVED_NAME

__all__ = [
    "BASE_URL_ENV",
    "ArgumentGroup",
    "add_agent_options",
    "add_server_options",
    "add_tool_options",
    "add_turn_start_options",
    "add_vad_option",
    "add_vllm_options",
    "add_voice_options",
    "check_base_url",
    "non_negative_float",
    "positive_float",
]


ArgumentGroup = argparse.ArgumentParser | argparse._ArgumentGroup


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """--base-url, --model, --timeout: which server, which model, how long a request may take.

    --base-url is resolved by `check_base_url` once parsed (the library's default applies).
    """

    group = parser.add_argument_group("server")
    group.add_argument(
        "--base-url",
        metavar="URL",
        help=f"the vLLM server's API root (default: ${BASE_URL_ENV}, else {DEFAULT_BASE_URL})",
    )
    group.add_argument(
        "--model",
        metavar="NAME",
        help="the served model name to use (default: the server's first model)",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=positive_float,
        default=120.0,
        help="seconds one request may take (default: %(default)s)",
    )


def check_base_url(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Resolve `args.base_url` as the library does (option, else the variable, else the
    default) and check it is an http(s) URL; a usage error names where it came from."""

    url = resolve_base_url(args.base_url.strip() if args.base_url else None)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        where = "--base-url" if args.base_url else f"${BASE_URL_ENV}"
        parser.error(
            f"{url!r} is not an http(s) URL (from {where}); write it as http://HOST:PORT/v1, "
            f"such as {DEFAULT_BASE_URL}"
        )
    args.base_url = url


def add_agent_options(parser: argparse.ArgumentParser) -> None:
    """--tools, --mcp, --instructions, --yes, --notes-db, --tool-choice, --log."""
    group = parser.add_argument_group("agent")
    add_tool_options(group)
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


def add_tool_options(group: ArgumentGroup) -> None:
    """--tools and --mcp: where the tools come from."""
    group.add_argument(
        "--tools",
        metavar="MODULE[:ATTR]",
        help="your tools: a Toolbox, a list of tools, or every @tool function of a module "
        "(`myapp.tools:toolbox`, `myapp.tools`, or a path `./my_tools.py`); "
        "default: the built-in tools",
    )
    group.add_argument(
        "--mcp",
        action="append",
        default=[],
        metavar="SERVER",
        help="the tools of an MCP server too: a command line (stdio), such as "
        '"npx -y @modelcontextprotocol/server-filesystem ~/Documents", or a streamable HTTP '
        "URL such as http://127.0.0.1:8765/mcp; repeatable (needs the `mcp` extra)",
    )


def add_vad_option(group: ArgumentGroup) -> None:
    """--vad, --turn-detector and --speculate: how speech and turns are detected."""
    group.add_argument(
        "--vad",
        choices=["webrtc", "silero", "both"],
        default="webrtc",
        help="speech detector (default: %(default)s; silero needs the `silero` extra)",
    )
    group.add_argument(
        "--turn-detector",
        choices=["silence", "smart-turn"],
        default="silence",
        help="how a turn ends: after 0.8 s of silence, or as Smart Turn v3.2 judges it at "
        "each pause (needs the `turn` extra; default: %(default)s)",
    )
    group.add_argument(
        "--speculate",
        action="store_true",
        help="start the model request at each short pause, before the turn ends (cancelled "
        "if you go on speaking; tools still run only once the turn ends)",
    )


def add_turn_start_options(parser: argparse.ArgumentParser, *, push_to_talk: bool) -> None:
    """--wake-word, --wake-window (and --push-to-talk, for the microphone): when a turn starts."""
    from agent.audio.wake import WAKE_WORDS
    from agent.turn_start import WAKE_WINDOW_S

    group = parser.add_argument_group("when a turn starts (default: whenever you speak)")
    choice = group.add_mutually_exclusive_group() if push_to_talk else group
    choice.add_argument(
        "--wake-word",
        choices=WAKE_WORDS,
        metavar="NAME",
        help=f"sleep until this wake word is heard: {', '.join(WAKE_WORDS)} (extra [wake]); "
        "say the command after it, in the same breath or within the window",
    )
    if push_to_talk:
        choice.add_argument(
            "--push-to-talk",
            action="store_true",
            help="a key opens and closes each turn: Space or Enter to talk, again to send "
            "(the voice alone starts nothing)",
        )
    group.add_argument(
        "--wake-window",
        metavar="SECONDS",
        type=non_negative_float,
        help=f"with --wake-word: how long the assistant stays awake after the wake word and "
        f"after each reply (default: {WAKE_WINDOW_S:g}; 0: say the wake word every time)",
    )


def add_voice_options(parser: argparse.ArgumentParser, *, echo: bool) -> None:
    """--voice, --output-device, --speak-to, --no-barge-in (and --echo, for the microphone)."""
    group = parser.add_argument_group("speaking")
    group.add_argument(
        "--voice",
        metavar="VOICE",
        help="speak the replies: piper:NAME, PATH.onnx, espeak[:VOICE] or none (default: the "
        "best voice installed for run, none for replay; see `voxagent voices`)",
    )
    group.add_argument(
        "--output-device",
        metavar="DEVICE",
        help="speaker: index or part of the name (see `voxagent devices`)",
    )
    group.add_argument(
        "--speak-to",
        metavar="FILE.wav",
        help="write what the assistant says to this WAV file instead of the speaker, on the "
        "input's timeline (sample 0 = the start of the microphone or recording)",
    )
    group.add_argument(
        "--no-barge-in",
        action="store_true",
        help="the assistant finishes speaking even when you talk over it",
    )
    if echo:
        group.add_argument(
            "--echo",
            choices=["auto", "aec", "gate", "off"],
            default="auto",
            help="the assistant's voice in the microphone: aec cancels it (extra [aec]), gate "
            "lets only a louder voice through while it speaks, off for a headset or an "
            "echo-cancelled source; auto: aec where installed, else gate (default: auto)",
        )


def add_vllm_options(group: ArgumentGroup, *, model_flag: str, port_default: str) -> None:
    """The flags of a vLLM started here (`serve`, and `run --serve`)."""
    # One flat declaration per flag (no logic): long, but read as a table.
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
        type=positive_float,
        default=1800.0,
        help="seconds to wait for the server to be ready (default: %(default)s)",
    )
    group.add_argument(
        "--no-gpu-check",
        action="store_true",
        help="start vLLM even when no NVIDIA GPU is found (for a CPU build of vLLM)",
    )


def non_negative_float(text: str) -> float:
    """An argparse type: a number of 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value
