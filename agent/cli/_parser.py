"""The `voxagent` command line: the table of commands, and the parser built from it.

A command's options are added the first time its parser is used (`_CommandParser`), so
`voxagent --help` builds only the list of commands: it imports neither the HTTP stack nor the
audio stack (the defaults that live in the library are read when a command is parsed).
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.cli._exit import ExitCode
from agent.cli._options import (
    add_agent_options,
    add_server_options,
    add_tool_options,
    add_turn_start_options,
    add_vad_option,
    add_vllm_options,
    add_voice_options,
    check_base_url,
)
from agent.cli._vllm import DEFAULT_MODEL, DEFAULT_PORT

__all__ = ["COMMANDS", "CommandSpec", "build_parser", "parse_command_line"]

_EXIT_CODES = "\n".join(f"  {code.value:<4} {code.meaning}" for code in ExitCode)
_DESCRIPTION = """\
Voice agents with Voxtral on vLLM: speech in, tool calls out, no separate speech recogniser.

Start a server with `voxagent serve` (or `voxagent run --serve`), then talk to it with
`voxagent run`. Commands that talk to a server take --base-url (default: $VOXAGENT_BASE_URL,
else the address `voxagent serve` uses); `voxagent COMMAND --help` tells more."""

AddArguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command: its name, help, option groups, and the function that runs it.

    `runs` is ``"module:function"``, imported only when the command runs.
    """

    name: str
    summary: str
    details: str
    runs: str
    server: bool = False
    agent: bool = False
    arguments: AddArguments | None = None
    positional_tail: str | None = None
    """The list positional that may continue after options (`ask a.wav --json b.wav Q`)."""


def parse_command_line(argv: Sequence[str] | None = None) -> argparse.Namespace:
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
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_CommandParser
    )
    for spec in COMMANDS:
        commands.add_parser(
            spec.name,
            help=spec.summary,
            description=f"{spec.summary}\n\n{textwrap.dedent(spec.details).strip()}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            spec=spec,
        )
    return parser


class _CommandParser(argparse.ArgumentParser):
    """A command's parser: its options are added on first use (parsing or help)."""

    def __init__(self, *args: Any, spec: CommandSpec | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._spec = spec
        self._built = spec is None

    def _build(self) -> CommandSpec | None:
        if not self._built:
            self._built = True
            assert self._spec is not None
            _add_arguments(self, self._spec)
        return self._spec

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        spec = self._build()
        parsed, extras = super().parse_known_args(args, namespace)
        if spec is not None and spec.server:
            check_base_url(self, parsed)
        return parsed, extras

    def format_help(self) -> str:
        self._build()
        return super().format_help()

    def format_usage(self) -> str:
        self._build()
        return super().format_usage()


def _add_arguments(parser: argparse.ArgumentParser, spec: CommandSpec) -> None:
    if spec.server:
        add_server_options(parser)
    if spec.agent:
        add_agent_options(parser)
    if spec.arguments is not None:
        spec.arguments(parser)
    parser.set_defaults(positional_tail=spec.positional_tail)


# --- each command's own arguments -----------------------------------------------------------


def _run_arguments(run: argparse.ArgumentParser) -> None:
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
    add_vad_option(audio)
    add_turn_start_options(run, push_to_talk=True)
    add_voice_options(run, echo=True)
    starting = run.add_argument_group("starting a server here (--serve)")
    starting.add_argument(
        "--serve", action="store_true", help="start vLLM on this machine first (see `serve`)"
    )
    add_vllm_options(starting, model_flag="--serve-model", port_default="the port of --base-url")
    _add_vllm_args(starting, "with --serve: extra flags for vLLM, after `--`")


def _serve_arguments(serve: argparse.ArgumentParser) -> None:
    add_vllm_options(serve, model_flag="--model", port_default=str(DEFAULT_PORT))
    serve.add_argument(
        "--print",
        action="store_true",
        dest="print_only",
        help="print the vLLM command and exit without running it",
    )
    _add_vllm_args(serve, "extra flags for vLLM, after `--`")


def _add_vllm_args(group: argparse.ArgumentParser | argparse._ArgumentGroup, text: str) -> None:
    group.add_argument("vllm_args", nargs=argparse.REMAINDER, metavar="-- VLLM_ARGS", help=text)


def _replay_arguments(replay: argparse.ArgumentParser) -> None:
    replay.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV/FLAC/OGG/MP3)")
    replay.add_argument("--json", action="store_true", help="one JSON object per turn")
    add_vad_option(replay)
    add_turn_start_options(replay, push_to_talk=False)
    add_voice_options(replay, echo=False)


def _say_arguments(say: argparse.ArgumentParser) -> None:
    say.add_argument("text", help="what to say")
    say.add_argument("--voice", metavar="VOICE", help="piper:NAME, PATH.onnx or espeak[:VOICE]")
    say.add_argument("-o", "--output", metavar="FILE.wav", help="write a WAV file instead")
    say.add_argument("--output-device", metavar="DEVICE", help="the speaker (index or name)")


def _voices_arguments(voices: argparse.ArgumentParser) -> None:
    voices.add_argument("action", nargs="?", choices=["download"], help="download a voice")
    voices.add_argument("name", nargs="?", help="the Piper voice to download")


def _transcribe_arguments(transcribe: argparse.ArgumentParser) -> None:
    transcribe.add_argument("files", nargs="+", metavar="FILE", help="audio files, any length")
    transcribe.add_argument(
        "--language",
        help="the spoken language (ar nl en fr de hi it pt es; default: detected)",
    )
    transcribe.add_argument("--json", action="store_true", help="one JSON object per file")
    transcribe.add_argument(
        "--format",
        choices=("txt", "json", "srt", "vtt"),
        default="txt",
        help="txt (the text), json (text and segments), srt or vtt subtitles (default: txt)",
    )
    transcribe.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )
    transcribe.add_argument(
        "--piece-seconds",
        metavar="SECONDS",
        type=float,
        help="the longest piece of a long recording sent in one request (30 to 600; default: "
        "300, or 30 for srt/vtt so that cues stay short)",
    )
    transcribe.add_argument(
        "--in-flight",
        metavar="N",
        type=int,
        default=4,
        help="pieces transcribed at once (default: %(default)s)",
    )


def _ask_arguments(ask: argparse.ArgumentParser) -> None:
    from agent.limits import MAX_AUDIO_ITEMS

    ask.add_argument(
        "items",
        nargs="+",
        metavar="FILE... QUESTION",
        help=f"audio files (1 to {MAX_AUDIO_ITEMS}), then the question about them; more files "
        "and a question may follow (the same conversation)",
    )
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument(
        "--summary",
        action="store_true",
        help="ask for a structured summary (topics, decisions, action items): give only files",
    )


def _devices_arguments(devices: argparse.ArgumentParser) -> None:
    devices.add_argument("--json", action="store_true", help="one JSON object per device")


def _doctor_arguments(doctor: argparse.ArgumentParser) -> None:
    doctor.add_argument("--device", help="the microphone to check (default: the default input)")
    doctor.add_argument(
        "--no-mic",
        action="store_true",
        help="no microphone here (a machine that only replays files): skip its check",
    )


def _tools_arguments(tools: argparse.ArgumentParser) -> None:
    add_tool_options(tools.add_argument_group("tools"))
    tools.add_argument(
        "--notes-db", metavar="PATH", help="the SQLite file of the built-in notes tools"
    )
    tools.add_argument("--json", action="store_true", help="one JSON object: tools and totals")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("voxtral-agent")
    except PackageNotFoundError:
        return "unknown"


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "run",
        "the desktop assistant: listen on the microphone and act",
        """
        Checks that the server is ready, has tool calling enabled and room for the tools,
        then listens. The console shows what the assistant hears and does; Ctrl-C stops it.

        examples:
          voxagent run --serve                 start vLLM here, then listen
          voxagent run --device 2 --log talk.jsonl
          voxagent run --replay question.wav   a recording instead of the microphone
          voxagent run --tools myapp.tools:toolbox
          voxagent run --wake-word hey_jarvis  sleep until "hey jarvis" is heard
          voxagent run --push-to-talk          Space or Enter opens and closes each turn
        """,
        "agent.cli._run:run_command",
        server=True,
        agent=True,
        arguments=_run_arguments,
    ),
    CommandSpec(
        "serve",
        "start vLLM for Voxtral with the right flags and wait until it is ready",
        f"""
        Runs `vllm serve` with the Mistral formats, tool calling (auto choice, mistral parser),
        --max-model-len and Voxtral's audio limit per prompt, on 127.0.0.1. The server log goes
        to a file; the first start downloads about 5 GB and compiles (minutes). Ctrl-C stops
        vLLM (a second Ctrl-C kills it at once). Extra vLLM flags go after `--`.

        examples:
          voxagent serve
          voxagent serve --port 8001 --max-model-len 8192 -- --enforce-eager
          voxagent serve --print               show the command only

        vLLM is found as: --vllm, then $VOXAGENT_VLLM, then `vllm` on PATH, then
        `python -m vllm.entrypoints.cli.main`. Install it with:
          pip install 'voxtral-agent[serve]'
        (default model: {DEFAULT_MODEL})
        """,
        "agent.cli._serve:serve_command",
        arguments=_serve_arguments,
    ),
    CommandSpec(
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
        "agent.cli._replay:replay_command",
        server=True,
        agent=True,
        arguments=_replay_arguments,
        positional_tail="files",
    ),
    CommandSpec(
        "transcribe",
        "transcribe recordings with Voxtral's transcription mode",
        """
        Prints `FILE: text`, one line per file (only the text when there is one file), or
        one JSON object per file with --json. A recording of any length is read from disk
        as it goes, cut at pauses into pieces the server accepts, transcribed a few pieces at
        a time and joined in order; on a terminal a progress bar shows the time left.

        examples:
          voxagent transcribe meeting.wav --language fr
          voxagent transcribe lecture.mp3 --format srt -o lecture.srt
        """,
        "agent.cli._transcribe:transcribe_command",
        server=True,
        arguments=_transcribe_arguments,
        positional_tail="files",
    ),
    CommandSpec(
        "ask",
        "ask about recordings: files, then the question (each group in one request)",
        """
        Usage: FILE... QUESTION [FILE... QUESTION ...]. An argument that names a file (it
        exists, or it is one word ending in an audio extension such as .wav) is a recording;
        any other is the question about the files before it. Each group is one request of
        the same conversation, so a later question can refer to earlier answers.

        A recording over one audio item's limit (10 minutes) is cut at pauses into several
        items of the same request (5 at most: about 40 minutes fit a 32k context); the
        time ranges sent are shown.

        examples:
          voxagent ask talk1.wav talk2.wav "Which speaker is more inspiring?"
          voxagent ask interview.mp3 "Summarize it." followup.wav "Does this contradict it?"
          voxagent ask meeting.wav --summary
        """,
        "agent.cli._transcribe:ask_command",
        server=True,
        arguments=_ask_arguments,
        positional_tail="items",
    ),
    CommandSpec(
        "say",
        "speak a text with a voice (or write it to a WAV file), to try a voice",
        """
        examples:
          voxagent say "Hello, I am your assistant."
          voxagent say "Bonjour." --voice piper:fr_FR-siwis-medium -o hello.wav
        """,
        "agent.cli._speech_commands:say_command",
        arguments=_say_arguments,
    ),
    CommandSpec(
        "voices",
        "list the voices installed and the default; `voices download NAME` gets a Piper voice",
        """
        Piper voices live in the voices folder ($VOXAGENT_VOICES, else the user's data
        folder); downloading needs piper-tts (pip install 'voxtral-agent[piper]') and the
        internet, once.

        examples:
          voxagent voices
          voxagent voices download en_US-lessac-medium
        """,
        "agent.cli._speech_commands:voices_command",
        arguments=_voices_arguments,
    ),
    CommandSpec(
        "devices",
        "list the audio input and output devices and their default rates",
        """
        The number or (part of) the name goes to `voxagent run --device` (inputs) or
        `--output-device` (outputs). The default input is marked with *, the default output
        with + (in --json: `is_default` marks the input, `is_default_output` the output).
        """,
        "agent.cli._devices:devices_command",
        arguments=_devices_arguments,
    ),
    CommandSpec(
        "doctor",
        "check each piece (packages, PortAudio, microphone, server, tools, a round trip)",
        """
        Prints one line per check, and for each failure what to do about it. The round trip
        sends the tools `voxagent run` would send (--tools, else the built-in ones), and the
        tools' share of the server's context is shown. The exit status is 0 when everything
        needed for `voxagent run` works (with --no-mic: for `voxagent run --replay`).
        """,
        "agent.cli._doctor:doctor_command",
        server=True,
        agent=True,
        arguments=_doctor_arguments,
    ),
    CommandSpec(
        "tools",
        "list the tools the model would be offered, with their schemas and token costs",
        """
        Every tool `voxagent run` would offer (--tools, else the built-in ones, and the tools
        of each --mcp server): where it comes from, whether it asks for approval, its schema,
        and what it costs of the context on every request; the total is compared with the
        context of the server at --base-url when one answers. The exit status is 1 when an
        MCP server did not answer.

        examples:
          voxagent tools
          voxagent tools --mcp "npx -y @modelcontextprotocol/server-filesystem ~/Documents"
          voxagent tools --tools myapp.tools:toolbox --mcp http://127.0.0.1:8765/mcp --json
        """,
        "agent.cli._tools_command:tools_command",
        server=True,
        arguments=_tools_arguments,
    ),
)
