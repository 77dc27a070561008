"""Reply text on its way to a UI or a voice: held back while it may be a tool-call list.

When the server's parser fails, the calls arrive as plain text (`[TOOL_CALLS][{"name": ...`
or `[{"name": ...`, maybe after some words); that must never be shown or spoken.
"""

from __future__ import annotations

import inspect
import logging

from agent._tool_calls import may_become_tool_calls, split_tool_calls
from agent.backend import ModelReply
from agent.events import AgentEvent, EventHandler, ReplyText

__all__ = ["ReplyTextGate", "emit"]

_log = logging.getLogger("agent")


async def emit(handler: EventHandler | None, event: AgentEvent) -> None:
    """Deliver one event to a user's handler; a failing handler is logged, never fatal.

    The one rule for user callbacks: what they raise is logged and the conversation goes on.
    """
    if handler is None:
        return
    try:
        result = handler(event)
        if inspect.isawaitable(result):
            await result
    except Exception:
        _log.exception("event handler failed on %s", type(event).__name__)


class ReplyTextGate:
    """Passes reply text to the event handler, holding back text that may be a tool-call list.

    Text up to a `[` goes out at once; from a `[` that may start a call list, it waits for the
    end of the reply and goes out only if it is not one.
    """

    def __init__(self, handler: EventHandler) -> None:
        self._handler = handler
        self._held = ""
        self._fed = False

    async def feed(self, delta: str) -> None:
        """One streamed delta."""
        self._fed = True
        text = self._held + delta
        while text:
            bracket = text.find("[")
            if bracket < 0:
                ready, text = text, ""
            elif bracket > 0:
                ready, text = text[:bracket], text[bracket:]
            elif may_become_tool_calls(text):
                break
            else:  # a `[` that starts no call list ("[laughs]"): up to the next one goes out
                following = text.find("[", 1)
                cut = following if following > 0 else len(text)
                ready, text = text[:cut], text[cut:]
            await emit(self._handler, ReplyText(ready))
        self._held = text

    async def finish(self, reply: ModelReply) -> None:
        """The reply is complete: send what was held (or the whole text when not streamed)."""
        if not self._fed and reply.content:
            await self.feed(reply.content)
        held, self._held = self._held, ""
        if held and split_tool_calls(held)[1] is None:
            await emit(self._handler, ReplyText(held))
