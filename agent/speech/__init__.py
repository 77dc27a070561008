"""Speaking: voices (text to PCM), speakers (PCM to a device or file), speakable text.

`Voice` backends: `PiperVoice` (neural, extra `[piper]`), `EspeakVoice` (the espeak-ng
program), `NoVoice`; `voice_from_spec` picks one from a `--voice` value. `Speaker`s:
`SoundDeviceSpeaker` (PortAudio) and `WavSink` (a WAV file on a timeline). `SpeechQueue`
speaks a streamed reply sentence by sentence and, interrupted, says what the user heard;
`SpokenTurn` is one conversation turn's voice (what `Agent.listen` uses), `BargeInDetector`
tells the user talking over it from a click or a cough.
Importing this package loads no HTTP stack, no model and no audio device.
"""

from agent.speech.barge_in import BARGE_IN_SPEECH_S, BargeInDetector
from agent.speech.choice import BETTER_VOICE_NOTE, default_voice, voice_from_spec
from agent.speech.espeak import EspeakVoice, espeak_program
from agent.speech.piper import (
    DEFAULT_PIPER_VOICE,
    VOICES_ENV,
    PiperVoice,
    download_piper_voice,
    installed_piper_voices,
    piper_available,
    voices_folder,
)
from agent.speech.playback import OutputTap, Playback, TimelineSpeaker
from agent.speech.queue import (
    SpeakingFinished,
    SpeakingInterrupted,
    SpeakingStarted,
    SpeechEvent,
    SpeechQueue,
    Spoken,
)
from agent.speech.sound_device import OutputDevice, SoundDeviceSpeaker, output_devices
from agent.speech.speaker import Speaker, WavSink
from agent.speech.spoken_turn import SpokenTurn
from agent.speech.text import (
    CODE_OMITTED,
    SPOKEN_STYLE,
    SentenceSplitter,
    SpeakableStream,
    speakable,
    speakable_sentences,
)
from agent.speech.voice import NoVoice, SpeechChunk, Voice, WordTiming

__all__ = [
    "BARGE_IN_SPEECH_S",
    "BETTER_VOICE_NOTE",
    "CODE_OMITTED",
    "DEFAULT_PIPER_VOICE",
    "SPOKEN_STYLE",
    "VOICES_ENV",
    "BargeInDetector",
    "EspeakVoice",
    "NoVoice",
    "OutputDevice",
    "OutputTap",
    "PiperVoice",
    "Playback",
    "SentenceSplitter",
    "SoundDeviceSpeaker",
    "SpeakableStream",
    "Speaker",
    "SpeakingFinished",
    "SpeakingInterrupted",
    "SpeakingStarted",
    "SpeechChunk",
    "SpeechEvent",
    "SpeechQueue",
    "Spoken",
    "SpokenTurn",
    "TimelineSpeaker",
    "Voice",
    "WavSink",
    "WordTiming",
    "default_voice",
    "download_piper_voice",
    "espeak_program",
    "installed_piper_voices",
    "output_devices",
    "piper_available",
    "speakable",
    "speakable_sentences",
    "voice_from_spec",
    "voices_folder",
]
