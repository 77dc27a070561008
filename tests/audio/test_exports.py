"""The public names of `agent.audio` and `agent.listening` (a contract: apps import them)."""

from __future__ import annotations

import agent.audio
import agent.listening


def test_audio_exports() -> None:
    contract = {
        "Microphone", "WavSource", "ArraySource", "AudioSource", "Endpointer",
        "EndpointerConfig", "Utterance", "segment", "WebRtcVad", "SileroVad", "TwoStageVad",
        "SpeechDetector", "FRAME_SAMPLES", "SAMPLE_RATE", "to_pcm16", "decode_audio",
        "encode_wav", "input_devices", "level_dbfs",
    }  # fmt: skip
    assert contract <= set(agent.audio.__all__)
    assert all(hasattr(agent.audio, name) for name in agent.audio.__all__)


def test_listening_exports() -> None:
    assert set(agent.listening.__all__) == {"TurnRunner", "listen", "replay", "replay_async"}
