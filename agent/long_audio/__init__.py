"""Long recordings: transcription of any length, and questions about up to 5 items of audio.

A recording streams from disk (`Recording`); the endpointer finds its speech and the planner
cuts it at pauses into pieces the server accepts (`plan_pieces`): each under one item's
limits (600 s, 25 MB) and under what the server's context holds (`longest_piece_seconds`).
`transcribe_recording` sends the pieces concurrently and joins their transcripts in order
into a `Transcript` (a `str` with `segments` on the recording's timeline);
`load_turn_clips` turns a clip over one item's limit into several items of one turn.
`Agent.transcribe` and `Agent.run` use them.
"""

from agent.long_audio.pieces import (
    DEFAULT_PIECE_SECONDS,
    MAX_GAP_S,
    PLANNING_ENDPOINTER,
    Piece,
    Region,
    longest_piece_seconds,
    plan_pieces,
    plan_transcription,
    speech_regions,
)
from agent.long_audio.questions import load_turn_clips, load_turn_clips_async, split_recording
from agent.long_audio.recording import Recording, Span
from agent.long_audio.transcribe import (
    DEFAULT_MAX_IN_FLIGHT,
    PieceFailedError,
    ProgressHook,
    TranscriptionProgress,
    clock,
    transcribe_recording,
)
from agent.long_audio.transcript import Segment, SubtitleFormat, Transcript

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_PIECE_SECONDS",
    "MAX_GAP_S",
    "PLANNING_ENDPOINTER",
    "Piece",
    "PieceFailedError",
    "ProgressHook",
    "Recording",
    "Region",
    "Segment",
    "Span",
    "SubtitleFormat",
    "Transcript",
    "TranscriptionProgress",
    "clock",
    "load_turn_clips",
    "load_turn_clips_async",
    "longest_piece_seconds",
    "plan_pieces",
    "plan_transcription",
    "speech_regions",
    "split_recording",
    "transcribe_recording",
]
