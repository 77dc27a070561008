"""From what went wrong on the wire to an `agent.errors` exception, and whether to try again.

Each message names the server, the request and the root cause (`Name or service not known`,
a TLS error, a timeout), so one line is enough to act on. `retry_after` reads a 429/503's
`Retry-After` header.
"""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING

import httpx2
import openai

from agent._replies import UnusableBody
from agent.errors import (
    RequestRejectedError,
    ServerError,
    ServerUnavailableError,
    StreamError,
    VoxagentError,
)

if TYPE_CHECKING:
    from agent.backend import ModelReply

__all__ = [
    "WIRE_ERRORS",
    "AttemptTimedOut",
    "IncompleteStream",
    "describe",
    "is_retryable",
    "retry_after",
    "waits_too_long",
]

_MAX_RETRY_AFTER = 60.0
"""A server asking for a longer wait than this is not waited for: the request fails."""


class AttemptTimedOut(Exception):
    """One attempt ran past its deadline (connect and the whole body together)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")


class IncompleteStream(Exception):
    """A stream that ended (cleanly) before its finish chunk."""

    def __init__(self, reply: ModelReply) -> None:
        super().__init__("the stream ended before the reply finished (no finish_reason)")
        self.reply = reply


WIRE_ERRORS = (
    openai.APIError, httpx2.HTTPError, StreamError, AttemptTimedOut, IncompleteStream,
    UnusableBody,
)  # fmt: skip
"""What one attempt may raise that `describe` turns into an `agent.errors` exception."""


def is_retryable(exc: BaseException) -> bool:
    """Refused, timed out, cut off, unusable, 408/429/5xx: worth another attempt."""
    if isinstance(exc, openai.APIStatusError):
        return _is_transient_status(exc.status_code)
    if isinstance(exc, openai.APIError) and not isinstance(exc, openai.APIConnectionError):
        # An error line inside a 200 stream: the server gave up on this request.
        return False
    return isinstance(exc, WIRE_ERRORS)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked to wait (`Retry-After`: seconds or an HTTP date), if any."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    value = exc.response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value.strip() else None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds)


def waits_too_long(exc: BaseException) -> bool:
    """Whether the server asked for a wait longer than the client will make."""
    wait = retry_after(exc)
    return wait is not None and wait > _MAX_RETRY_AFTER


def describe(
    exc: BaseException, *, what: str, base_url: str, attempts: int, received: str
) -> VoxagentError:
    """The `agent.errors` exception for `exc`, the failure of `what` after `attempts` tries.

    `received` is the reply text already handed to the caller: a failure after it is a
    `StreamError` that carries it (such an attempt is never replayed).
    """
    tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
    where = f"{what} at {base_url}"
    if received:
        return StreamError(
            f"{where} broke off after {len(received)} characters of the reply had arrived "
            f"({_root_cause(exc)}); not retried, so the reply is not repeated",
            received=received,
        )
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, where, tries)
    if isinstance(exc, AttemptTimedOut | openai.APITimeoutError):
        cause = exc if isinstance(exc, AttemptTimedOut) else _root_cause(exc)
        return ServerUnavailableError(
            f"{what}: the vLLM server at {base_url} timed out after {tries} ({cause}). "
            "Check that it is not overloaded, or allow more time with timeout=",
            base_url=base_url,
        )
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return ServerUnavailableError(
            f"{what}: cannot reach the vLLM server at {base_url} ({_root_cause(exc)}; {tries}). "
            "Start it with `voxagent serve`, or point --base-url / VOXAGENT_BASE_URL at a "
            "running one",
            base_url=base_url,
        )
    if isinstance(exc, UnusableBody):
        return ServerError(
            f"{where} answered 200 with an unusable body after {tries}: {exc}. Is "
            f"{base_url} a vLLM server (not a proxy's page or another service)?",
            status_code=200,
        )
    if isinstance(exc, openai.APIError) and not isinstance(exc, openai.APIConnectionError):
        return StreamError(
            f"{where} failed mid-stream: the server reported {exc.message!r}. Check the "
            "server's log (`voxagent serve` prints it)"
        )
    return StreamError(f"{where} broke off mid-response after {tries}: {_root_cause(exc)}")


def _status_error(exc: openai.APIStatusError, where: str, tries: str) -> VoxagentError:
    message = _server_message(exc)
    status = exc.status_code
    if _is_transient_status(status):
        wait = retry_after(exc)
        asked = f" (it asked to retry after {wait:g} s)" if wait is not None else ""
        return ServerError(
            f"{where} failed with HTTP {status} after {tries}{asked}: {message}. Check the "
            "server's log (`voxagent serve` prints it)",
            status_code=status,
        )
    return RequestRejectedError(
        f"{where} was rejected with HTTP {status}: {message}",
        status_code=status,
        server_message=message,
    )


def _root_cause(exc: BaseException) -> str:
    """The innermost cause's message: `[Errno -2] Name or service not known`, a TLS error."""
    seen: set[int] = set()
    cause: BaseException = exc
    while id(cause) not in seen:
        seen.add(id(cause))
        inner = cause.__cause__ or cause.__context__
        if inner is None:
            break
        cause = inner
    text = str(cause).strip() or type(cause).__name__
    if cause is not exc and str(exc).strip() and str(exc).strip() != text:
        outer = str(exc).strip().rstrip(".")
        return f"{outer}: {text}"
    return text


def _is_transient_status(status: int) -> bool:
    """A status worth retrying: request timeout, too many requests, or a server error."""
    return status in (408, 429) or status >= 500


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
    return exc.message
