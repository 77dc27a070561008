"""Hearing: audio sources, format conversion, speech detection, endpointing and turn ends.

Everything inside the framework is 16 kHz mono int16 (`SAMPLE_RATE`); sources yield it in
30 ms frames (`FRAME_SAMPLES`), the `Endpointer` cuts those into `Utterance`s, and `segment`
does the same offline over a file or an array.
"""

from agent.audio._blocks import FRAME_MS, FRAME_SAMPLES, Reframer, StreamConverter
from agent.audio.convert import (
    PCM16,
    SAMPLE_RATE,
    decode_audio,
    duration_seconds,
    encode_wav,
    to_pcm16,
)
from agent.audio.endpointer import (
    Endpointer,
    EndpointerConfig,
    FrameHook,
    PauseHook,
    ResumeHook,
    TurnDetectorName,
    TurnModel,
    VadMode,
)
from agent.audio.events import EndpointerEvent, SpeechStarted, UtteranceDropped, UtteranceEnded
from agent.audio.extras import MissingExtraError
from agent.audio.intonation import final_pitch_drop, pitch_track
from agent.audio.microphone import InputDevice, Microphone, input_devices, system_echo_source
from agent.audio.pause_habits import PauseHabits
from agent.audio.segment import segment
from agent.audio.smart_turn import SmartTurn, smart_turn_model_path
from agent.audio.sources import ArraySource, AudioSource, FileReader, WavSource
from agent.audio.utterance import Utterance
from agent.audio.vad import (
    NoiseFloor,
    SileroVad,
    SpeechDetector,
    SteadySound,
    TwoStageVad,
    WebRtcVad,
    level_dbfs,
    silero_model_path,
)
from agent.audio.wake import WAKE_WORDS, WakeWord

__all__ = [
    "FRAME_MS",
    "FRAME_SAMPLES",
    "PCM16",
    "SAMPLE_RATE",
    "WAKE_WORDS",
    "ArraySource",
    "AudioSource",
    "Endpointer",
    "EndpointerConfig",
    "EndpointerEvent",
    "FileReader",
    "FrameHook",
    "InputDevice",
    "Microphone",
    "MissingExtraError",
    "NoiseFloor",
    "PauseHabits",
    "PauseHook",
    "Reframer",
    "ResumeHook",
    "SileroVad",
    "SmartTurn",
    "SpeechDetector",
    "SpeechStarted",
    "SteadySound",
    "StreamConverter",
    "TurnDetectorName",
    "TurnModel",
    "TwoStageVad",
    "Utterance",
    "UtteranceDropped",
    "UtteranceEnded",
    "VadMode",
    "WakeWord",
    "WavSource",
    "WebRtcVad",
    "decode_audio",
    "duration_seconds",
    "encode_wav",
    "final_pitch_drop",
    "input_devices",
    "level_dbfs",
    "pitch_track",
    "segment",
    "silero_model_path",
    "smart_turn_model_path",
    "system_echo_source",
    "to_pcm16",
]
