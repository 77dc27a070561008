"""What the tools and instructions cost of the server's context, before any turn is tried.

Every request carries the tool schemas and the instructions; with many tools and a small
`--max-model-len` nothing is left for speech and every turn fails. The estimate is the
library's (`agent.history.estimate_tokens`, the one `Agent` trims its history with).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from agent.agent import Agent
from agent.cli._exit import CliError, ExitCode
from agent.cli._words import count
from agent.clips import audio_tokens
from agent.history import estimate_tokens

__all__ = ["PromptBudget", "check_context"]

_SHOWN_TOOLS = 5
"""How many of the costliest tools a message names."""


@dataclass(frozen=True, slots=True)
class PromptBudget:
    """The fixed part of every request, in estimated tokens, against the server's context."""

    tools: dict[str, int]
    """Each tool's schema, by name."""
    schemas: int
    """All schemas as they are sent together."""
    instructions: int
    reply_reserve: int
    max_model_len: int | None

    @classmethod
    def of(cls, agent: Agent) -> PromptBudget:
        """The budget of `agent`'s requests (its tools, instructions and reply reserve)."""
        schemas = agent.toolbox.schemas()
        return cls(
            tools={
                schema["function"]["name"]: estimate_tokens(json.dumps(schema))
                for schema in schemas
            },
            schemas=estimate_tokens(json.dumps(schemas)) if schemas else 0,
            instructions=estimate_tokens(agent.instructions or "") if agent.instructions else 0,
            reply_reserve=agent.reply_reserve,
            max_model_len=agent.max_model_len,
        )

    @property
    def fixed(self) -> int:
        """Tokens every request spends before any audio or history."""
        return self.schemas + self.instructions

    @property
    def room_for_audio(self) -> int | None:
        """What is left for speech and history (None: the context length is unknown)."""
        if self.max_model_len is None:
            return None
        return self.max_model_len - self.reply_reserve - self.fixed

    @property
    def fits_speech(self) -> bool:
        """Whether one short utterance (the smallest audio item) fits beside the tools."""
        room = self.room_for_audio
        return room is None or room >= audio_tokens(1.0)

    def describe(self) -> str:
        """``12 tools ~2310 tokens (set_timer 310, ...), instructions ~60, reply 1024, of
        4096``: where the context goes."""
        costly = sorted(self.tools.items(), key=lambda item: -item[1])[:_SHOWN_TOOLS]
        named = ", ".join(f"{name} {tokens}" for name, tokens in costly)
        more = ", ..." if len(self.tools) > _SHOWN_TOOLS else ""
        tools = f"{count(len(self.tools), 'tool')} ~{self.schemas} tokens"
        if named:
            tools += f" ({named}{more})"
        context = f" of the server's {self.max_model_len}" if self.max_model_len else ""
        return (
            f"{tools}, instructions ~{self.instructions}, reply reserve {self.reply_reserve}"
            f"{context}; one 30 s audio item needs {audio_tokens(30.0)}"
        )


def check_context(agent: Agent) -> PromptBudget:
    """`agent`'s budget; `CliError` (server not ready for it) if no speech would fit."""
    budget = PromptBudget.of(agent)
    if not budget.fits_speech:
        raise CliError(
            f"the server's context is too small for these tools: {budget.describe()}; give "
            "fewer tools with --tools (or shorter --instructions), or start vLLM with a larger "
            "--max-model-len (voxagent serve uses 32768)",
            ExitCode.SERVER_UNAVAILABLE,
        )
    return budget
