"""voxtral-agent: voice agents that act, with Voxtral on vLLM.

`Agent` holds one conversation: audio (and/or text) in, the model's tool calls run through a
`tools.Toolbox`, a reply out, as a `Turn`. Hearing (`agent.audio`), the listening loop
(`Agent.listen`, `Agent.replay`) and test helpers (`agent.testing`) build on it.

The names below load on first use (PEP 562): `import agent.audio` or `import agent.errors`
does not pay for the HTTP stack and mistral-common.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agent._shadowing import check_not_shadowed

check_not_shadowed()

if TYPE_CHECKING:
    from agent.agent import Agent, ToolChoice
    from agent.backend import DEFAULT_BASE_URL, Backend, ModelReply, ServerInfo, ToolCall
    from agent.client import VoxtralClient
    from agent.clips import AudioInput, Clip, load_clip, load_clips
    from agent.errors import (
        AudioDeviceError,
        AudioTooLongError,
        BadAudioError,
        InvalidRequestError,
        RequestRejectedError,
        ServerError,
        ServerUnavailableError,
        StreamError,
        TurnTimeoutError,
        VoxagentError,
    )
    from agent.events import (
        AgentEvent,
        Asleep,
        Awake,
        EventHandler,
        ReplyText,
        SpeechStarted,
        ToolCallFinished,
        ToolCallStarted,
        TurnFailed,
        TurnFinished,
        TurnStarted,
        TurnTranscribed,
        UtteranceDropped,
        UtteranceEnded,
    )
    from agent.history import History, TurnRecord
    from agent.limits import MAX_AUDIO_ITEMS, MAX_AUDIO_SECONDS
    from agent.long_audio import PieceFailedError, Segment, Transcript
    from agent.turn import Timings, Turn, Usage
    from agent.turn_start import PushToTalk

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_AUDIO_ITEMS",
    "MAX_AUDIO_SECONDS",
    "Agent",
    "AgentEvent",
    "Asleep",
    "AudioDeviceError",
    "AudioInput",
    "AudioTooLongError",
    "Awake",
    "Backend",
    "BadAudioError",
    "Clip",
    "EventHandler",
    "History",
    "InvalidRequestError",
    "ModelReply",
    "PieceFailedError",
    "PushToTalk",
    "ReplyText",
    "RequestRejectedError",
    "Segment",
    "ServerError",
    "ServerInfo",
    "ServerUnavailableError",
    "SpeechStarted",
    "StreamError",
    "Timings",
    "ToolCall",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolChoice",
    "Transcript",
    "Turn",
    "TurnFailed",
    "TurnFinished",
    "TurnRecord",
    "TurnStarted",
    "TurnTimeoutError",
    "TurnTranscribed",
    "Usage",
    "UtteranceDropped",
    "UtteranceEnded",
    "VoxagentError",
    "VoxtralClient",
    "load_clip",
    "load_clips",
]

_HOMES = {
    "agent.agent": ("Agent", "ToolChoice"),
    "agent.backend": ("DEFAULT_BASE_URL", "Backend", "ModelReply", "ServerInfo", "ToolCall"),
    "agent.client": ("VoxtralClient",),
    "agent.clips": ("AudioInput", "Clip", "load_clip", "load_clips"),
    "agent.limits": ("MAX_AUDIO_ITEMS", "MAX_AUDIO_SECONDS"),
    "agent.long_audio": ("PieceFailedError", "Segment", "Transcript"),
    "agent.errors": (
        "AudioDeviceError", "AudioTooLongError", "BadAudioError", "InvalidRequestError",
        "RequestRejectedError", "ServerError", "ServerUnavailableError", "StreamError",
        "TurnTimeoutError", "VoxagentError",
    ),
    "agent.events": (
        "AgentEvent", "EventHandler", "ReplyText", "SpeechStarted", "ToolCallFinished",
        "ToolCallStarted", "TurnFailed", "TurnFinished", "TurnStarted", "TurnTranscribed",
        "UtteranceDropped",
        "UtteranceEnded", "Awake", "Asleep",
    ),
    "agent.history": ("History", "TurnRecord"),
    "agent.turn": ("Timings", "Turn", "Usage"),
    "agent.turn_start": ("PushToTalk",),
}  # fmt: skip
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'agent' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
