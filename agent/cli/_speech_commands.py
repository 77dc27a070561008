"""`voxagent say` and `voxagent voices`, and the voice that `run` and `replay` speak with.

`open_speech` turns --voice, --output-device, --speak-to, --no-barge-in and --echo into the
`listen` options (voice, speaker, barge_in, echo), with a console line for each choice the
user should know about (a robotic voice, no echo cancellation).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from agent.audio.echo import EchoFilter
from agent.cli._exit import CliError, ExitCode
from agent.errors import AudioDeviceError, VoxagentError
from agent.speech import Speaker, Voice
from tools._threads import run_blocking

__all__ = ["Speech", "open_speech", "say_command", "voices_command"]


@dataclass(frozen=True, slots=True)
class Speech:
    """What `listen` speaks with (voice None: text only), and the notes for the console."""

    voice: Voice | None
    speaker: Speaker | None
    barge_in: bool
    echo: EchoFilter | None
    notes: tuple[str, ...] = ()

    @property
    def on(self) -> bool:
        """Whether replies are spoken."""
        return self.voice is not None


def _voice(spec: str | None, notes: list[str]) -> Voice | None:
    from agent.speech import NoVoice, voice_from_spec

    try:
        voice = voice_from_spec(spec, note=notes.append)
    except VoxagentError as error:
        raise CliError(f"--voice {spec}: {error}", ExitCode.USAGE) from None
    return None if isinstance(voice, NoVoice) else voice


@contextlib.asynccontextmanager
async def open_speech(
    args: argparse.Namespace, *, from_microphone: bool, default_voice: str | None
) -> AsyncIterator[Speech]:
    """The voice, speaker and echo policy of `args` (`default_voice` when --voice is not
    given: None picks the best one installed, "none" is text only); the speaker is closed
    on the way out (a --speak-to file is then complete)."""
    notes: list[str] = []
    spec = args.voice if args.voice is not None else default_voice
    if spec is None and args.speak_to:
        spec = "default"
    voice = _voice(spec, notes)
    speaker = await _speaker(args, notes, required=args.voice is not None) if voice else None
    if voice is None or speaker is None:
        yield Speech(None, None, False, None, tuple(notes))
        return
    echo = await _echo(args, from_microphone, notes) if args.speak_to is None else None
    try:
        yield Speech(voice, speaker, not args.no_barge_in, echo, tuple(notes))
    finally:
        await speaker.aclose()


async def _speaker(args: argparse.Namespace, notes: list[str], *, required: bool) -> Speaker | None:
    """The --speak-to file, else the sound card (None when the default voice finds none)."""
    from agent.cli._agent_setup import parse_device
    from agent.speech import SoundDeviceSpeaker, WavSink

    if args.speak_to:  # the file replaces the sound card: sample 0 = the input's start
        try:
            return WavSink(args.speak_to)
        except (OSError, RuntimeError) as error:
            raise CliError(f"--speak-to {args.speak_to}: {error}", ExitCode.BAD_INPUT) from None
    speaker = SoundDeviceSpeaker(parse_device(args.output_device))
    try:
        await speaker.start()
    except AudioDeviceError as error:
        if not required:
            notes.append(f"no speaker ({error}): replies as text only")
            return None
        raise CliError(
            f"{error} (or write the speech to a file with --speak-to FILE.wav, or --voice none)",
            ExitCode.AUDIO_DEVICE,
        ) from None
    return speaker


async def _echo(
    args: argparse.Namespace, from_microphone: bool, notes: list[str]
) -> EchoFilter | None:
    """--echo: auto is the sound server's echo cancellation where the default microphone and
    speaker go through it (module-echo-cancel), else echo cancellation where livekit is
    installed, else the gate (said)."""
    choice = args.echo
    if not from_microphone or choice == "off":
        return None  # a recording, or a headset: nothing of the speaker reaches the input
    if choice == "auto" and args.device is None and args.output_device is None:
        from agent.audio.microphone import system_echo_source

        if source := await run_blocking(system_echo_source):
            notes.append(
                f"echo: the sound server cancels it (module-echo-cancel): the microphone is "
                f"its echo-cancelled source {source}, the speaker plays through its sink"
            )
            return None
    if choice in ("auto", "aec"):
        try:
            from agent.audio.echo import EchoCanceller

            return EchoCanceller()
        except VoxagentError as error:
            if choice == "aec":
                raise CliError(f"--echo aec: {error}", ExitCode.NOT_INSTALLED) from None
    from agent.audio.echo import EchoGate

    notes.append(
        "no echo cancellation (pip install 'voxtral-agent[aec]', or use the sound server's "
        "echo-cancelled source with --echo off): while the assistant speaks, only a clearly "
        "louder voice interrupts it; with a headset, use --echo off"
    )
    return EchoGate()


async def say_command(args: argparse.Namespace) -> ExitCode:
    """Speak `args.text` with --voice (or write it to -o FILE.wav)."""
    from agent.speech import SoundDeviceSpeaker, SpeechQueue, WavSink

    notes: list[str] = []
    voice = _voice(args.voice, notes)
    for note in notes:
        print(f"voxagent: {note}", file=sys.stderr)
    if voice is None:
        raise CliError("--voice none says nothing: pick a voice (see `voxagent voices`)")
    speaker: Speaker
    if args.output:
        speaker = WavSink(args.output)
    else:
        device = SoundDeviceSpeaker(args.output_device)
        try:
            await device.start()
        except AudioDeviceError as error:
            message = f"{error} (or write a file with -o out.wav)"
            raise CliError(message, ExitCode.AUDIO_DEVICE) from None
        speaker = device
    try:
        queue = SpeechQueue(voice, speaker)
        queue.feed(args.text)
        queue.finish()
        await queue.wait()
    finally:
        await speaker.aclose()
    if args.output:
        print(f"wrote {args.output} ({voice.name})")
    return ExitCode.OK


async def voices_command(args: argparse.Namespace) -> ExitCode:
    """List the installed voices and the default; `voices download NAME` fetches one."""
    from agent.speech import (
        default_voice,
        download_piper_voice,
        espeak_program,
        installed_piper_voices,
        voices_folder,
    )

    if args.action == "download":
        if not args.name:
            raise CliError("voxagent voices download NAME (e.g. en_US-lessac-medium)")

        def progress(line: str) -> None:
            print(f"  {line}", file=sys.stderr, flush=True)

        try:
            path = await run_blocking(lambda: download_piper_voice(args.name, progress=progress))
        except VoxagentError as error:
            raise CliError(str(error), ExitCode.NOT_INSTALLED) from None
        print(f"downloaded {path}")
        return ExitCode.OK
    if args.action is not None:
        raise CliError(f"unknown action {args.action!r}: use `voxagent voices [download NAME]`")
    folder: Path = voices_folder()
    voice, note = default_voice()
    for path in installed_piper_voices():
        print(f"piper:{path.stem}  ({path})")
    if espeak_program() is not None:
        print("espeak  (espeak-ng, robotic)")
    print("none  (text only)")
    print(f"default: {voice.name}" + (f"  ({note})" if note else ""))
    print(f"voices folder: {folder}")
    return ExitCode.OK
