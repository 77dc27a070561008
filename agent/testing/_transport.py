"""An `httpx2` transport that answers in process from a script: no sockets, no threads.

It carries out the same wire plan as `ScriptedServer`'s socket handler
(`agent.testing._plan`): what would close or reset the connection raises the `httpx2` error a
socket gives (`RemoteProtocolError`, `ReadError`), so an HTTP client on top sees what it would
see over loopback.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Generator

import httpx2

from agent.testing._plan import CLOSE, END, RESET, Action, Data, Head, Pause, answer
from agent.testing._script import Script

__all__ = ["ScriptTransport"]

_NO_ANSWER = "Server disconnected without sending a response."
_CUT_BODY = "peer closed connection without sending complete message body"
_RESET = "[Errno 104] Connection reset by peer"

Plan = Generator[Action, None, None]


class ScriptTransport(httpx2.AsyncBaseTransport):
    """Answers every request of an `httpx2.AsyncClient` from `script`."""

    def __init__(self, script: Script) -> None:
        self._script = script

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        raw = await request.aread()
        content_type = request.headers.get("content-type", "")
        plan = answer(self._script, request.method, request.url.path, content_type, raw)
        try:
            head = await _until_head(plan, request)
        except BaseException:
            plan.close()
            raise
        headers = dict(head.headers)
        if head.content_type is not None:
            headers["content-type"] = head.content_type
        return httpx2.Response(
            head.status, headers=headers, stream=_Body(plan, request), request=request
        )


async def _until_head(plan: Plan, request: httpx2.Request) -> Head:
    """Carry out the plan up to its head (waits, or a connection that ends first)."""
    for action in plan:
        if isinstance(action, Head):
            return action
        await _before_body(action, request)
    raise httpx2.RemoteProtocolError(_NO_ANSWER, request=request)


async def _before_body(action: Action, request: httpx2.Request) -> None:
    if isinstance(action, Pause):
        await _pause(action.seconds)
    elif action is CLOSE:
        raise httpx2.RemoteProtocolError(_NO_ANSWER, request=request)
    elif action is RESET:
        raise httpx2.ReadError(_RESET, request=request)


class _Body(httpx2.AsyncByteStream):
    """The rest of the plan as the response body; closing it ends the request."""

    def __init__(self, plan: Plan, request: httpx2.Request) -> None:
        self._plan = plan
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for action in self._plan:
            if isinstance(action, Data) and action.data:
                yield action.data
            elif isinstance(action, Pause):
                await _pause(action.seconds)
            elif action is END:
                return
            elif action is CLOSE:
                raise httpx2.RemoteProtocolError(_CUT_BODY, request=self._request)
            elif action is RESET:
                raise httpx2.ReadError(_RESET, request=self._request)

    async def aclose(self) -> None:
        self._plan.close()


async def _pause(seconds: float) -> None:
    if math.isinf(seconds):
        await asyncio.Event().wait()  # until cancelled (the client's deadline, or its caller)
    elif seconds > 0:
        await asyncio.sleep(seconds)
