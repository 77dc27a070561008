"""voxtral-agent: voice agents that act, with Voxtral on vLLM.

`Agent` holds one conversation: audio (and/or text) in, the model's tool calls run through a
`tools.Toolbox`, a reply out, as a `Turn`. Hearing (`agent.audio`), the listening loop
(`Agent.listen`, `Agent.replay`) and test helpers (`agent.testing`) build on it.
"""

from agent.agent import Agent, ToolChoice
from agent.client import DEFAULT_BASE_URL, ModelReply, ServerInfo, ToolCall, VoxtralClient
from agent.clips import MAX_AUDIO_ITEMS, MAX_AUDIO_SECONDS, AudioInput, Clip, load_clip, load_clips
from agent.errors import (
    AudioDeviceError,
    BadAudioError,
    InvalidRequestError,
    RequestRejectedError,
    ServerError,
    ServerUnavailableError,
    StreamError,
    VoxagentError,
)
from agent.events import (
    AgentEvent,
    EventHandler,
    ReplyText,
    SpeechStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    UtteranceDropped,
    UtteranceEnded,
)
from agent.history import History, TurnRecord
from agent.turn import Timings, Turn, Usage

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_AUDIO_ITEMS",
    "MAX_AUDIO_SECONDS",
    "Agent",
    "AgentEvent",
    "AudioDeviceError",
    "AudioInput",
    "BadAudioError",
    "Clip",
    "EventHandler",
    "History",
    "InvalidRequestError",
    "ModelReply",
    "ReplyText",
    "RequestRejectedError",
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
    "Turn",
    "TurnFailed",
    "TurnFinished",
    "TurnRecord",
    "TurnStarted",
    "Usage",
    "UtteranceDropped",
    "UtteranceEnded",
    "VoxagentError",
    "VoxtralClient",
    "load_clip",
    "load_clips",
]
