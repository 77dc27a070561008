"""The public names of `agent.audio` and `agent.listening` (a contract: apps import them)."""

from __future__ import annotations

import agent.audio
import agent.listening


def test_audio_exports_exactly_the_public_names() -> None:
    assert sorted(agent.audio.__all__) == [
        "ArraySource", "AudioSource", "Endpointer", "EndpointerConfig", "EndpointerEvent",
        "FRAME_MS", "FRAME_SAMPLES", "FileReader", "FrameHook", "InputDevice", "Microphone",
        "MissingExtraError", "NoiseFloor", "PCM16", "PauseHabits", "PauseHook", "Reframer",
        "ResumeHook", "SAMPLE_RATE", "SileroVad", "SmartTurn", "SpeechDetector", "SpeechStarted",
        "SteadySound",
        "StreamConverter", "TurnDetectorName", "TurnModel", "TwoStageVad",
        "Utterance", "UtteranceDropped", "UtteranceEnded", "VadMode", "WAKE_WORDS", "WakeWord",
        "WavSource", "WebRtcVad",
        "decode_audio", "duration_seconds", "encode_wav", "final_pitch_drop", "input_devices",
        "level_dbfs", "pitch_track", "segment", "silero_model_path", "smart_turn_model_path",
        "system_echo_source", "to_pcm16",
    ]  # fmt: skip
    assert len(set(agent.audio.__all__)) == len(agent.audio.__all__)
    assert all(hasattr(agent.audio, name) for name in agent.audio.__all__)
    public = {name for name in vars(agent.audio) if name.isidentifier() and name[0] != "_"}
    submodules = {"convert", "endpointer", "events", "extras", "microphone", "segment"}
    submodules |= {"echo", "portaudio", "smart_turn", "sources", "utterance", "vad", "wake"}
    submodules |= {"intonation", "pause_habits"}
    assert public - set(agent.audio.__all__) <= submodules  # nothing public left unlisted


def test_listening_exports() -> None:
    assert set(agent.listening.__all__) == {
        "ListenOptions",
        "ReplayOptions",
        "TurnRunner",
        "listen",
        "replay",
        "replay_async",
    }
