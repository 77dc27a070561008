"""The check every server command makes first: is the server there, and is it ready?

One attempt per request, no retries: a server that is not there at the start is a setup
fault to report at once (with its root cause), not a transient one to wait out.
"""

from __future__ import annotations

import dataclasses

from agent.cli._exit import CliError, ExitCode, one_line, root_cause
from agent.client import ServerInfo, VoxtralClient
from agent.errors import (
    RequestRejectedError,
    ServerError,
    ServerUnavailableError,
)

__all__ = ["check_server"]

_CHECK_TIMEOUT_S = 10.0
"""Seconds each request of the check may take (no retries: a missing server fails fast)."""
_START_HINT = (
    "start one with `voxagent serve` (or `voxagent run --serve`), or point --base-url "
    "(or VOXAGENT_BASE_URL) at a running one"
)


async def check_server(base_url: str, model: str | None, *, tool_calling: bool) -> ServerInfo:
    """Ask the server what it serves (and whether tool calling is on), without retrying.

    Raises:
        CliError: one line naming the URL and the fix (exit code `SERVER_UNAVAILABLE`).
    """
    client = VoxtralClient(base_url, timeout=_CHECK_TIMEOUT_S, max_retries=0)
    url = client.base_url
    try:
        info = await client.server_info(None)
        if model is not None and model != info.model:
            if model not in info.models:
                served = ", ".join(info.models)
                raise CliError(
                    f"model {model!r} is not served at {url}; it serves {served}: pass "
                    f"--model {info.models[0]} (or leave --model out)",
                    _UNAVAILABLE,
                )
            info = await client.server_info(model)  # its own context length
        if not tool_calling:
            return info
        enabled, message = await client.probe_tool_calling(info.model)
    except (ServerError, ServerUnavailableError) as error:
        raise _check_failed(error, url) from None
    finally:
        await client.aclose()
    if not enabled:
        said = f" (vLLM says: {_short(message)})" if message else ""
        raise CliError(
            f"tool calling is off on the server at {url}{said}: restart vLLM with "
            "--enable-auto-tool-choice --tool-call-parser mistral (`voxagent serve` does)",
            _UNAVAILABLE,
        )
    return dataclasses.replace(info, tool_calling=True)


def _check_failed(error: ServerError | ServerUnavailableError, url: str) -> CliError:
    """What a failed check means for the user, with the fix."""
    if isinstance(error, ServerUnavailableError):
        text = f"no vLLM server answers at {url}{_why(error, url)}: {_START_HINT}"
    elif isinstance(error, RequestRejectedError) and error.status_code == 404:
        text = (
            f"{url} is not a vLLM API root (HTTP 404 for {url}/models): the URL usually ends "
            "in /v1, such as http://127.0.0.1:8000/v1"
        )
    elif isinstance(error, RequestRejectedError):
        text = (
            f"the server at {url} refused the check (HTTP {error.status_code}: "
            f"{_short(error.server_message)}); is it a vLLM server?"
        )
    elif error.status_code in (None, 502, 503, 504):
        text = (
            f"the server at {url} is not ready (HTTP {error.status_code}); wait until "
            "`voxagent serve` says it is ready, or look at its log"
        )
    else:
        text = (
            f"the server at {url} failed the check with HTTP {error.status_code}; is it a "
            "vLLM server? Look at its log"
        )
    return CliError(text, _UNAVAILABLE)


_UNAVAILABLE = ExitCode.SERVER_UNAVAILABLE


def _short(text: str) -> str:
    return one_line(text, 160)


def _why(error: ServerUnavailableError, url: str) -> str:
    """`` (Name or service not known)``: the root cause, so the one line says what to fix."""
    cause = root_cause(error)
    if cause is None:
        return ""
    if cause.startswith("TLS/SSL") and url.startswith("https://"):
        cause += "; is the server plain http://?"
    return f" ({cause})"
