"""`WakeWord`: hears a wake word in the frame stream (pymicro-wakeword's microWakeWord models).

Four models ship in the wheel (okay_nabu, hey_jarvis, alexa, hey_mycroft), about 2 ms of CPU
per second of audio. What to do once it is heard (a conversation window, sleeping again) is
decided above the audio layer (`agent.turn_start.WakeGate`, `listen(wake_word=...)`); this
only says when the word was said.
"""

from __future__ import annotations

from typing import Any

from agent.audio.convert import PCM16
from agent.audio.extras import MissingExtraError

__all__ = ["WAKE_WORDS", "WakeWord"]

WAKE_WORDS = ("okay_nabu", "hey_jarvis", "alexa", "hey_mycroft")
"""The wake words of the built-in models."""


class WakeWord:
    """One built-in wake word model, fed 16 kHz mono int16 frames of any length in order.

    Args:
        name: one of `WAKE_WORDS`.

    Raises:
        ValueError: an unknown name.
        MissingExtraError: pymicro-wakeword is not installed (its wheels exist for Linux
            x86_64/aarch64 and Windows; macOS arm64 has only an old 1.0.0).
    """

    def __init__(self, name: str = "okay_nabu") -> None:
        if name not in WAKE_WORDS:
            raise ValueError(f"unknown wake word {name!r}; the built-in ones: {list(WAKE_WORDS)}")
        self.name = name
        self.reset()

    def reset(self) -> None:
        """Forget the stream so far (a new one starts)."""
        try:
            from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
        except ImportError as exc:
            raise MissingExtraError(
                "pymicro-wakeword (the wake word detector)",
                extra="wake",
                install=["pip install 'voxtral-agent[wake]'"],
                api_hint="its wheels exist for Linux x86_64/aarch64 and Windows only",
            ) from exc
        self._model: Any = MicroWakeWord.from_builtin(Model(self.name))
        self._features: Any = MicroWakeWordFeatures()

    @property
    def phrase(self) -> str:
        """What to say: ``"hey jarvis"`` for ``hey_jarvis``."""
        return self.name.replace("_", " ")

    def heard(self, frame: PCM16) -> bool:
        """Feed one frame; True when the model hears the word at its end. It keeps hearing it
        for a few frames after (up to about a second): count the first of a run.

        About 0.1 ms of CPU per 30 ms frame: run it off the event loop."""
        detected = False
        for features in self._features.process_streaming(frame.tobytes()):
            detected = bool(self._model.process_streaming(features)) or detected
        return detected

    def __repr__(self) -> str:
        return f"WakeWord({self.name!r})"
