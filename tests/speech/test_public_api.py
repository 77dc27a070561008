"""The public names of `agent.speech` and `agent.audio.echo` (a contract), and a light import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import agent.audio.echo
import agent.speech
from tests.audio.corpus import ROOT

SPEECH_API = {
    "BARGE_IN_SPEECH_S", "BargeInDetector", "SpokenTurn",
    "BETTER_VOICE_NOTE", "CODE_OMITTED", "DEFAULT_PIPER_VOICE", "SPOKEN_STYLE", "VOICES_ENV",
    "EspeakVoice", "NoVoice", "OutputDevice", "OutputTap", "PiperVoice", "Playback",
    "SentenceSplitter", "SoundDeviceSpeaker", "SpeakableStream", "Speaker", "SpeakingFinished",
    "SpeakingInterrupted", "SpeakingStarted", "SpeechChunk", "SpeechEvent", "SpeechQueue",
    "Spoken", "TimelineSpeaker", "Voice", "WavSink", "WordTiming", "default_voice",
    "download_piper_voice", "espeak_program", "installed_piper_voices", "output_devices",
    "piper_available", "speakable", "speakable_sentences", "voice_from_spec", "voices_folder",
}  # fmt: skip

ECHO_API = {
    "APM_FRAME_SAMPLES", "EchoCanceller", "EchoFilter", "EchoGate", "SystemEchoCancel",
    "system_echo_cancel",
}  # fmt: skip

HEAVY = ["openai", "httpx2", "httpx", "mistral_common", "piper", "onnxruntime", "livekit"]
HEAVY += ["sounddevice"]


def test_speech_exports_exactly_its_api() -> None:
    assert set(agent.speech.__all__) == SPEECH_API
    assert all(hasattr(agent.speech, name) for name in agent.speech.__all__)


def test_echo_exports_exactly_its_api() -> None:
    assert set(agent.audio.echo.__all__) == ECHO_API
    assert all(hasattr(agent.audio.echo, name) for name in agent.audio.echo.__all__)


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    return [name for name in HEAVY if name in loaded]


def test_the_speech_package_itself_loads_nothing_heavy() -> None:
    # `agent/__init__.py` (not this package's) is bypassed: a bare namespace stands in for it.
    bare_agent = (
        "import types, pathlib; package = types.ModuleType('agent'); "
        "package.__path__ = [str(pathlib.Path('agent').resolve())]; "
        "sys.modules['agent'] = package\nimport agent.speech, agent.audio.echo"
    )
    assert _loaded_after(bare_agent) == []


def test_import_agent_speech_loads_nothing_heavy() -> None:
    if heavy := _loaded_after("import agent"):
        pytest.skip(f"`import agent` itself loads {heavy} (agent/__init__.py: issue 9)")
    assert _loaded_after("import agent.speech") == []
