"""When a turn starts: at every utterance, after a wake word, or at the press of a key.

The listening loop hands each frame to a `TurnGate`, which feeds the endpointer and decides
which utterances run as turns; the others become `UtteranceDropped` events with the reason.
`turn_gate` makes the gate `listen`'s options ask for: `OpenGate` (every utterance),
`WakeGate` (`wake_word=`, with `Awake`/`Asleep` events) or `PushToTalkGate` (`push_to_talk=`,
a `PushToTalk` the app starts and ends).
"""

from __future__ import annotations

from agent.audio import Endpointer, WakeWord
from agent.turn_start._gate import HeardEvent, OpenGate, TurnGate
from agent.turn_start._push_to_talk import PushToTalk, PushToTalkGate
from agent.turn_start._wake import WAKE_WINDOW_S, WakeGate

__all__ = [
    "WAKE_WINDOW_S",
    "HeardEvent",
    "OpenGate",
    "PushToTalk",
    "PushToTalkGate",
    "TurnGate",
    "WakeGate",
    "turn_gate",
]


def turn_gate(
    endpointer: Endpointer,
    *,
    wake_word: str | WakeWord | None = None,
    wake_window_s: float = WAKE_WINDOW_S,
    push_to_talk: PushToTalk | None = None,
) -> TurnGate:
    """The gate for `listen`'s options (checked): see `listen` for each."""
    if wake_word is not None and push_to_talk is not None:
        raise ValueError(
            "wake_word= and push_to_talk= are two ways of starting a turn: give one of them"
        )
    if push_to_talk is not None:
        if not isinstance(push_to_talk, PushToTalk):
            raise TypeError(f"push_to_talk= takes a PushToTalk(), got {push_to_talk!r}")
        return PushToTalkGate(endpointer, push_to_talk)
    if wake_word is not None:
        detector = wake_word if isinstance(wake_word, WakeWord) else WakeWord(wake_word)
        return WakeGate(endpointer, detector, wake_window_s)
    return OpenGate(endpointer)
