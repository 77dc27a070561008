"""Test voice agents without a GPU: a scripted vLLM server on loopback.

`ScriptedServer` is a real HTTP server on 127.0.0.1 that speaks vLLM's OpenAI API the way it
does for Voxtral (streamed and not), checks every request with the same mistral-common rules,
and answers with scripted replies; the `scripted_server` pytest fixture gives one per test.
"""

from agent.testing._server import ScriptedServer
from agent.testing._steps import RecordedRequest, ScriptedCall, Step
from agent.testing.audio import silence, tone

__all__ = ["RecordedRequest", "ScriptedCall", "ScriptedServer", "Step", "silence", "tone"]
