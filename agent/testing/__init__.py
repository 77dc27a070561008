"""Test voice agents without a GPU: a scripted vLLM, over HTTP or in process.

`ScriptedServer` is a real HTTP server on 127.0.0.1 that speaks vLLM's OpenAI API the way it
does for Voxtral (streamed and not), checks every request with the same mistral-common rules,
and answers with scripted steps (replies, tool calls, and faults: HTTP errors, unusable bodies,
cut or reset streams, trickles, hangs). `ScriptedBackend` answers the same script with the same
rules in process (an `agent.backend.Backend`, no sockets). The `scripted_server` and
`scripted_backend` pytest fixtures give one per test.

The names are imported when first used (PEP 562), so importing this package (the pytest plugin
does) costs nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.testing._backend import ScriptedBackend
    from agent.testing._server import ScriptedServer
    from agent.testing._steps import RecordedRequest, ScriptedCall, Step, StepKind
    from agent.testing.audio import silence, tone

__all__ = [
    "RecordedRequest",
    "ScriptedBackend",
    "ScriptedCall",
    "ScriptedServer",
    "Step",
    "StepKind",
    "silence",
    "tone",
]

_HOMES = {
    "RecordedRequest": "agent.testing._steps",
    "ScriptedBackend": "agent.testing._backend",
    "ScriptedCall": "agent.testing._steps",
    "ScriptedServer": "agent.testing._server",
    "Step": "agent.testing._steps",
    "StepKind": "agent.testing._steps",
    "silence": "agent.testing.audio",
    "tone": "agent.testing.audio",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'agent.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
