"""The tool-calling probe: the one request that tells whether `tool_choice="auto"` is enabled.

`VoxtralClient.probe_tool_calling` sends it; `ScriptedServer` recognises it by its exact shape
and answers it by itself, so the probe never takes a scripted step.
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_tool_calling_probe", "tool_calling_probe"]


def tool_calling_probe(model: str) -> dict[str, Any]:
    """The probe's body: a one-token `auto` request with one empty tool (vLLM answers 400
    when started without `--enable-auto-tool-choice --tool-call-parser`)."""
    return {
        "model": model,
        "messages": [{"role": "user", "content": "ping"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "probe",
                    "description": "Checks that tool calling is enabled.",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        ],
        "tool_choice": "auto",
        "max_tokens": 1,
    }


def is_tool_calling_probe(body: dict[str, Any]) -> bool:
    """Whether a chat request body is exactly the probe (any model name)."""
    return body == tool_calling_probe(str(body.get("model")))
