"""`EspeakVoice`: the espeak-ng program as a subprocess, its WAV read from stdout as it comes.

Always available offline (Debian: `apt-get install espeak-ng`), robotic. The text goes in on
stdin (never argv: a text may start with "-"); the audio streams out clause by clause.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import struct
from collections.abc import AsyncIterator

import numpy as np

from agent.errors import VoxagentError
from agent.speech.voice import SpeechChunk

__all__ = ["EspeakVoice", "espeak_program"]

_CHUNK_BYTES = 8192
"""Bytes read from the pipe at once: about 0.19 s of 22 kHz audio."""


def espeak_program() -> str | None:
    """The path of espeak-ng (or espeak) on PATH, or None."""
    return shutil.which("espeak-ng") or shutil.which("espeak")


class EspeakVoice:
    """espeak-ng as a `Voice` (22050 Hz).

    Args:
        voice: an espeak-ng voice name (`espeak-ng --voices` lists them), e.g. `en-us`, `en+f3`.
        words_per_minute: speaking rate.
        program: the executable; default: espeak-ng found on PATH.
    """

    sample_rate = 22_050

    def __init__(
        self, voice: str = "en-us", *, words_per_minute: int = 175, program: str | None = None
    ) -> None:
        found = program or espeak_program()
        if found is None:
            raise VoxagentError(
                "espeak-ng is not installed: apt-get install espeak-ng (macOS: brew install "
                "espeak-ng), or choose another voice (--voice piper:NAME or --voice none)"
            )
        self.program = found
        self.voice = voice
        self.words_per_minute = words_per_minute

    @property
    def name(self) -> str:
        """`espeak:VOICE`."""
        return f"espeak:{self.voice}"

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        """Stream the audio of `text`; closing the iterator kills the process."""
        if not text.strip():
            return
        command = [self.program, "--stdout", "-v", self.voice, "-s", str(self.words_per_minute)]
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert process.stdin and process.stdout and process.stderr
            process.stdin.write(text.encode("utf-8"))
            await process.stdin.drain()
            process.stdin.close()
            try:
                await _skip_wav_header(process.stdout, self.sample_rate)
            except VoxagentError as error:
                said = (await process.stderr.read()).decode(errors="replace").strip()
                raise VoxagentError(f"{error}: {said}" if said else str(error)) from None
            leftover = b""
            while block := await process.stdout.read(_CHUNK_BYTES):
                block = leftover + block
                usable = len(block) - len(block) % 2
                leftover = block[usable:]
                if usable:
                    yield SpeechChunk(np.frombuffer(block[:usable], dtype="<i2").astype(np.int16))
            if await process.wait() != 0:
                errors = await process.stderr.read() if process.stderr else b""
                raise VoxagentError(f"espeak-ng failed: {errors.decode(errors='replace')}")
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    def __repr__(self) -> str:
        return f"EspeakVoice({self.voice!r}, words_per_minute={self.words_per_minute})"


async def _skip_wav_header(stream: asyncio.StreamReader, expected_rate: int) -> None:
    """Read the RIFF header up to the `data` chunk, checking it is 16-bit mono at the rate."""
    try:
        riff = await stream.readexactly(12)
        if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            raise VoxagentError("espeak-ng did not write a WAV stream")
        while True:
            kind, size = struct.unpack("<4sI", await stream.readexactly(8))
            if kind == b"data":
                return
            body = await stream.readexactly(size)
            if kind == b"fmt ":
                channels, rate = struct.unpack("<HI", body[2:8])
                bits = struct.unpack("<H", body[14:16])[0]
                if (channels, rate, bits) != (1, expected_rate, 16):
                    raise VoxagentError(
                        f"espeak-ng wrote {channels} ch {rate} Hz {bits}-bit audio; "
                        f"expected mono {expected_rate} Hz 16-bit"
                    )
    except asyncio.IncompleteReadError as error:
        raise VoxagentError("espeak-ng wrote no audio (see `espeak-ng --voices`)") from error
