"""Transcribing a recording of any length: its pieces sent concurrently, joined in order.

Pieces come from the planner while the recording is still being read; at most
`max_in_flight` are being transcribed at once (vLLM batches them), and no more pieces are
read than are being sent, so memory stays flat whatever the length. A piece whose request
fails is retried on its own, one piece at a time (a struggling server is not hammered),
after the client's own retries; a piece that still fails fails the whole transcription with
a `PieceFailedError` naming its time range, and the requests still running are cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from agent.audio.convert import encode_wav
from agent.backend import Backend
from agent.errors import RequestRejectedError, ServerError, ServerUnavailableError
from agent.long_audio.pieces import Piece, plan_pieces
from agent.long_audio.recording import Recording
from agent.long_audio.transcript import Segment, Transcript
from tools._threads import run_blocking

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "PieceFailedError",
    "ProgressHook",
    "TranscriptionProgress",
    "clock",
    "transcribe_recording",
]

DEFAULT_MAX_IN_FLIGHT = 4
"""Pieces transcribed at once by default."""

_log = logging.getLogger("agent")


@dataclass(frozen=True, slots=True)
class TranscriptionProgress:
    """How far a transcription is.

    Attributes:
        seconds_done: seconds of the recording whose pieces are transcribed.
        duration: the recording's length in seconds.
        pieces_done: pieces transcribed so far.
        requests: transcription requests sent so far (retries included).
    """

    seconds_done: float
    duration: float
    pieces_done: int
    requests: int


ProgressHook = Callable[[TranscriptionProgress], None]
"""Called on the event loop each time a piece is transcribed (it must be quick)."""


class PieceFailedError(ServerError):
    """One piece of a recording could not be transcribed, after its retries.

    Attributes:
        piece: the piece (its time range in `piece.speech_start`/`speech_end`).
        attempts: the requests made for it.
        cause: the last error.
    """

    def __init__(self, recording: str, piece: Piece, attempts: int, cause: Exception) -> None:
        status = cause.status_code if isinstance(cause, ServerError) else None
        super().__init__(
            f"{recording}: the piece {clock(piece.speech_start)}–{clock(piece.speech_end)} "
            f"(#{piece.index + 1}) failed after {attempts} attempt(s): {cause}",
            status_code=status,
        )
        self.piece = piece
        self.attempts = attempts
        self.cause = cause


def clock(seconds: float) -> str:
    """`seconds` as H:MM:SS.s (for messages about time ranges)."""
    whole = int(seconds)
    tenths = int((seconds - whole) * 10)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}.{tenths}"


async def transcribe_recording(
    backend: Backend,
    recording: Recording,
    *,
    model: str,
    language: str | None = None,
    max_piece_seconds: float,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    piece_retries: int = 1,
    retry_backoff: float = 0.5,
    on_progress: ProgressHook | None = None,
    pieces: Iterator[Piece] | None = None,
) -> Transcript:
    """The transcript of `recording`, cut into pieces of at most `max_piece_seconds`.

    Args:
        backend: where the requests go.
        recording: the recording.
        model, language: for every request.
        max_piece_seconds: the longest piece.
        max_in_flight: pieces transcribed at once (1 or more).
        piece_retries: further attempts for a piece whose request failed after the client's
            own retries (retryable errors: the server unreachable, 5xx, 408, 429).
        retry_backoff: seconds before a piece's first retry, doubled each time.
        on_progress: gets a `TranscriptionProgress` after each piece.
        pieces: the pieces to send (default: `plan_pieces(recording, max_piece_seconds)`).

    Raises:
        PieceFailedError: a piece failed after its retries (the others are cancelled).
        BadAudioError: the recording became unreadable while it was being read.
    """
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be 1 or more, got {max_in_flight}")
    run = _Run(backend, recording, model, language, piece_retries, retry_backoff, on_progress)
    source = pieces if pieces is not None else plan_pieces(recording, max_piece_seconds)
    segments = await run.all(_Puller(source), max_in_flight)
    return Transcript(segments, language=language, duration=recording.duration)


class _Puller:
    """Takes the next piece from a blocking iterator in a worker thread, one at a time."""

    def __init__(self, pieces: Iterator[Piece]) -> None:
        self._pieces = pieces
        self._busy = threading.Lock()

    async def next(self) -> Piece | None:
        def take() -> Piece | None:
            with self._busy:
                return next(self._pieces, None)

        return await run_blocking(take)

    def close(self) -> None:
        """Close the iterator (its file) unless a worker is still reading it."""
        close = getattr(self._pieces, "close", None)
        if close is not None and self._busy.acquire(blocking=False):
            try:
                close()
            finally:
                self._busy.release()


class _Run:
    """One transcription's state: the retry lane, the counts, the progress."""

    def __init__(
        self,
        backend: Backend,
        recording: Recording,
        model: str,
        language: str | None,
        retries: int,
        backoff: float,
        on_progress: ProgressHook | None,
    ) -> None:
        self.backend = backend
        self.recording = recording
        self.model = model
        self.language = language
        self.retries = retries
        self.backoff = backoff
        self.on_progress = on_progress
        self.retry_lane = asyncio.Lock()
        self.requests = 0
        self.done = 0
        self.seconds_done = 0.0

    async def all(self, puller: _Puller, max_in_flight: int) -> list[Segment]:
        """Every piece's segment, in order; at most `max_in_flight` pieces at a time."""
        slots = asyncio.Semaphore(max_in_flight)
        tasks: list[asyncio.Task[Segment]] = []
        failed = asyncio.Event()

        def finished(task: asyncio.Task[Segment]) -> None:
            slots.release()
            if task.cancelled() or task.exception() is not None:
                failed.set()

        try:
            while not failed.is_set():
                await slots.acquire()
                piece = await puller.next() if not failed.is_set() else None
                if piece is None:
                    slots.release()
                    break
                task = asyncio.create_task(self.one(piece), name=f"voxagent-piece-{piece.index}")
                task.add_done_callback(finished)
                tasks.append(task)
            segments = list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            puller.close()
        self._report(final=True)
        return segments

    async def one(self, piece: Piece) -> Segment:
        """Read, send and (if need be) retry one piece."""
        wav = await run_blocking(lambda: encode_wav(self.recording.read(piece.spans)))
        try:
            text = await self.send(wav)
        except (ServerError, ServerUnavailableError) as error:
            if not _retryable(error) or self.retries == 0:
                raise PieceFailedError(self.recording.name, piece, 1, error) from error
            text = await self.retry(piece, wav, error)
        self.done += 1
        self.seconds_done += piece.covers[1] - piece.covers[0]
        self._report()
        return Segment(piece.speech_start, piece.speech_end, text.strip(), piece.index)

    async def retry(self, piece: Piece, wav: bytes, error: Exception) -> str:
        """Further attempts for one piece, one piece at a time."""
        attempts = 1
        async with self.retry_lane:
            for attempt in range(self.retries):
                _log.warning(
                    "%s: piece %s–%s failed (%s); retrying",
                    self.recording.name, clock(piece.speech_start), clock(piece.speech_end), error,
                )  # fmt: skip
                await asyncio.sleep(self.backoff * 2**attempt)
                attempts += 1
                try:
                    return await self.send(wav)
                except (ServerError, ServerUnavailableError) as again:
                    error = again
                    if not _retryable(again):
                        break
        raise PieceFailedError(self.recording.name, piece, attempts, error) from error

    async def send(self, wav: bytes) -> str:
        self.requests += 1
        return await self.backend.transcribe(wav, model=self.model, language=self.language)

    def _report(self, *, final: bool = False) -> None:
        if self.on_progress is None:
            return
        done = self.recording.duration if final else min(self.seconds_done, self.recording.duration)
        self.on_progress(
            TranscriptionProgress(done, self.recording.duration, self.done, self.requests)
        )


def _retryable(error: Exception) -> bool:
    if isinstance(error, RequestRejectedError):
        return error.status_code in (408, 429)
    return True
