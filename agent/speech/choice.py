"""`voice_from_spec`: the voice a `--voice` value names, or the best one to be had."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from agent.errors import VoxagentError
from agent.speech.espeak import EspeakVoice, espeak_program
from agent.speech.piper import (
    DEFAULT_PIPER_VOICE,
    PiperVoice,
    installed_piper_voices,
    piper_available,
)
from agent.speech.voice import NoVoice, Voice

__all__ = ["BETTER_VOICE_NOTE", "default_voice", "voice_from_spec"]

_log = logging.getLogger("agent.speech")

BETTER_VOICE_NOTE = (
    "speaking with espeak-ng (robotic); for a natural voice: pip install 'voxtral-agent[piper]' "
    f"and `voxagent voices download {DEFAULT_PIPER_VOICE}`"
)


def default_voice(folder: Path | None = None) -> tuple[Voice, str | None]:
    """The best voice to be had, with a note for the user where it is not a good one.

    Piper where piper-tts and a voice in the voices folder are there (`DEFAULT_PIPER_VOICE`
    first), else espeak-ng (with `BETTER_VOICE_NOTE`), else no voice (with a note).
    """
    if piper_available():
        voices = installed_piper_voices(folder)
        preferred = [v for v in voices if v.stem == DEFAULT_PIPER_VOICE] or voices
        if preferred:
            return PiperVoice(preferred[0]), None
    if espeak_program() is not None:
        return EspeakVoice(), BETTER_VOICE_NOTE
    return NoVoice(), (
        "no voice: replies are shown as text only (apt-get install espeak-ng, or pip install "
        "'voxtral-agent[piper]' and `voxagent voices download "
        f"{DEFAULT_PIPER_VOICE}`)"
    )


def voice_from_spec(
    spec: str | None,
    *,
    folder: Path | None = None,
    note: Callable[[str], object] | None = None,
) -> Voice:
    """The voice named by `spec` (what `--voice` takes).

    `piper:NAME` (a voice in the voices folder), `PATH.onnx` (a Piper voice file),
    `espeak` or `espeak:VOICE`, `none`; None or `default`: `default_voice()`, whose note (if
    any) goes to `note` (default: logged as a warning on the `agent.speech` logger).
    """
    if spec is None or spec == "default":
        voice, message = default_voice(folder)
        if message:
            (note or _log.warning)(message)
        return voice
    kind, _, argument = spec.partition(":")
    if spec == "none":
        return NoVoice()
    if kind == "espeak":
        return EspeakVoice(argument or "en-us")
    if kind == "piper" and argument:
        return PiperVoice(argument, folder=folder)
    if spec.endswith(".onnx") or os.sep in spec:
        return PiperVoice(spec)
    raise VoxagentError(
        f"unknown voice {spec!r}: use piper:NAME, PATH.onnx, espeak[:VOICE] or none"
    )
