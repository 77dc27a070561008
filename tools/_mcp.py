"""`MCPServer`: an MCP server (stdio or streamable HTTP) as a source of tools for a `Toolbox`.

The connection lives in one supervisor task: it connects with the official SDK (``mcp``,
imported only here and only once a server starts), lists the tools, waits, and when the
connection ends (a stdio server that exits, an HTTP server that stops answering) it
connects again with backoff. Meanwhile the server's tools stay offered and answer an error
result. ``notifications/tools/list_changed`` (and, on 2026-era connections, the
``subscriptions/listen`` event for it) makes it list the tools again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import functools
import importlib.util
import logging
import os
import re
import shlex
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from tools._errors import ToolError
from tools._mcp_content import read_result
from tools._printing import describe_error
from tools._tool import NAME_PATTERN, Tool

__all__ = ["ListedTool", "MCPServer", "valid_tool_name"]

logger = logging.getLogger("tools.mcp")

_LAUNCHERS = frozenset(
    {"npx", "uvx", "bunx", "pnpx", "node", "deno", "bun", "python", "python3", "pipx", "uv",
     "docker", "run", "exec", "dlx"}
)  # fmt: skip
"""Words of a command line that start a server rather than name it (for a default name)."""
_GENERIC_PARTS = frozenset({"index", "main", "server", "cli", "dist", "build", "lib", "src", "bin",
                            "/", "__main__"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class ListedTool:
    """One tool as the server lists it (its own name, description, schema and hints)."""

    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool


class MCPServer:
    """An MCP server whose tools a `Toolbox` (and so an `Agent`) offers the model.

    Make one with `MCPServer.stdio` (a command this process starts) or `MCPServer.http`
    (a streamable HTTP endpoint), or `MCPServer.parse` (either, from one string). Give it to
    ``Toolbox(servers=[...])``, ``box.add_server(...)``, or in an `Agent`'s tools list. The
    toolbox connects when it starts (``await box.start()``; `Agent.run` does it), and closes
    the server with ``await box.aclose()`` (`Agent.aclose` does it).

    A tool runs only after the toolbox's approver says yes, unless the server marks it
    read-only (``readOnlyHint``) or the server is ``trusted``. Needs the ``mcp`` extra.

    Attributes:
        name: The server's name: shown to the approver, and the prefix of its tool names
            when two servers (or the app) offer the same name.
        trusted: Its tools run without approval.
        error: Why the last connection failed or ended (None while all is well).
        connections: How many times it has connected (more than 1: it was restarted).
        left_out: The listed tools that cannot be offered (a schema vLLM cannot take), with
            why; each is logged once.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        name: str,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        trusted: bool = False,
        connect_timeout: float = 60.0,
        retry_delay: float = 0.5,
        max_retry_delay: float = 30.0,
        protocol: str = "auto",
    ) -> None:
        if not retry_delay > 0 or max_retry_delay < retry_delay:
            raise ValueError("retry_delay must be above 0 and at most max_retry_delay")
        self.name = valid_tool_name(name, fallback="mcp")
        self.trusted = bool(trusted)
        self.include = None if include is None else tuple(_names(include, "include"))
        self.exclude = tuple(_names(exclude or (), "exclude"))
        self.connect_timeout = connect_timeout
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.protocol = protocol
        self.error: str | None = None
        self.connections = 0
        self.left_out: dict[str, str] = {}
        self.listed: list[ListedTool] = []
        self.on_change: Callable[[], None] | None = None
        self._connect = connect
        self._client: Any = None
        self._supervisor: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()
        self._broken = asyncio.Event()
        self._stale = asyncio.Event()
        self._tools: dict[tuple[str, str], Tool[..., Any]] = {}

    # -- making one -----------------------------------------------------------------------

    @classmethod
    def stdio(
        cls,
        command: str,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        stderr: TextIO | None = None,
        name: str | None = None,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        trusted: bool = False,
        **options: Any,
    ) -> MCPServer:
        """A server this process starts, spoken to over its stdin and stdout.

        Args:
            command, args: The command line, such as ``"npx", "-y",
                "@modelcontextprotocol/server-filesystem", "/home/me/Documents"``.
            env: Variables added to the few the SDK passes on (``HOME``, ``PATH``...).
            cwd: The server's working folder.
            stderr: Where the server's stderr goes (default: this process's stderr).
            name: The server's name (default: taken from the command line).
            include, exclude: Tool names (or ``fnmatch`` patterns, such as ``"read_*"``)
                to offer, or to leave out.
            trusted: Run its tools without approval.
            options: ``connect_timeout``, ``retry_delay``, ``max_retry_delay`` (seconds), and
                ``protocol``: ``"auto"`` (the SDK's negotiation), ``"legacy"`` (the
                ``initialize`` handshake only, for servers the probe confuses).
        """
        if not isinstance(command, str) or not command.strip():
            raise ValueError("MCPServer.stdio() needs a command, such as 'npx'")
        words = [command, *map(str, args)]
        added = dict(env or {})
        folder = None if cwd is None else str(cwd)

        def connect() -> Any:
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            parameters = StdioServerParameters(
                command=command, args=words[1:], env=added, cwd=folder
            )
            return stdio_client(parameters, errlog=_errlog(stderr))

        label = name or _name_from_command(words)
        return cls(connect, name=label, include=include, exclude=exclude, trusted=trusted,
                   **options)  # fmt: skip

    @classmethod
    def http(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        name: str | None = None,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        trusted: bool = False,
        **options: Any,
    ) -> MCPServer:
        """A server at a streamable HTTP endpoint, such as ``http://127.0.0.1:8765/mcp``.

        Args:
            headers: Sent with every request (an ``Authorization`` header, say).
            name: The server's name (default: taken from the URL's host and port).
            include, exclude, trusted, options: as for `stdio`.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"MCPServer.http() needs an http(s) URL, got {url!r}")
        sent = dict(headers or {})

        def connect() -> Any:
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            client = create_mcp_http_client(headers=sent)
            return _owning(client, streamable_http_client(url, http_client=client))

        label = name or (parts.hostname or "mcp").split(".")[0] + (
            f"_{parts.port}" if parts.port else ""
        )
        return cls(connect, name=label, include=include, exclude=exclude, trusted=trusted,
                   **options)  # fmt: skip

    @classmethod
    def parse(cls, spec: str, **options: Any) -> MCPServer:
        """`http` for an http(s) URL, else `stdio` for a command line (split as a shell does)."""
        text = spec.strip()
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):  # a URL: http(s) is the one transport
            return cls.http(text, **options)
        words = shlex.split(text)
        if not words:
            raise ValueError("an MCP server is a command line or an http(s) URL, got nothing")
        return cls.stdio(*[os.path.expanduser(word) for word in words], **options)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<MCPServer {self.name!r} {state}, {len(self.listed)} tools>"

    # -- the connection -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the server answers now."""
        return self._client is not None

    @property
    def started(self) -> bool:
        """Whether `start` has been called (and `aclose` not since)."""
        return self._supervisor is not None

    async def start(self) -> None:
        """Connect and list the tools; returns once the first attempt succeeded or failed
        (then ``error`` says why, and the server is tried again in the background).

        Raises:
            ModuleNotFoundError: the ``mcp`` extra is not installed.
        """
        if importlib.util.find_spec("mcp") is None:
            raise ModuleNotFoundError(
                f"MCP server {self.name!r}: the MCP SDK is not installed; "
                "pip install 'voxtral-agent[mcp]'",
                name="mcp",
            )
        loop = asyncio.get_running_loop()
        if self._supervisor is not None and self._supervisor.get_loop() is not loop:
            # Started on a loop that has since ended (`asyncio.run` twice): begin anew here.
            self._supervisor, self._client = None, None
        if self._supervisor is None:
            self._first_attempt = asyncio.Event()
            self._supervisor = asyncio.create_task(self._supervise(), name=f"mcp {self.name}")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.connect_timeout):
                await self._first_attempt.wait()
        if not self._first_attempt.is_set():
            self.error = f"no answer within {self.connect_timeout:g} s"
            logger.warning("MCP server %s: %s; still trying", self.name, self.error)

    async def aclose(self) -> None:
        """Close the connection (a stdio server is stopped)."""
        task, self._supervisor = self._supervisor, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        """Call the server's tool ``name``; its text, or `ToolError` with what went wrong."""
        client = self._client
        if client is None:
            why = f" ({self.error})" if self.error else ""
            raise ToolError(
                f"The MCP server {self.name!r} is not connected{why}; it is being restarted, "
                "so try again in a moment."
            )
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED
        from pydantic import ValidationError

        try:
            result = await client.call_tool(name, arguments)
        except MCPError as error:
            if error.code == CONNECTION_CLOSED or "Session terminated" in error.message:
                self._lost(error.message)
                raise ToolError(
                    f"The MCP server {self.name!r} lost its connection during {name} "
                    f"({error.message}); it is being restarted, so try again in a moment."
                ) from None
            raise ToolError(
                f"The MCP server {self.name!r} refused {name}: {error.message}"
            ) from None
        except ValidationError as error:
            raise ToolError(
                f"The MCP server {self.name!r} gave an invalid answer: {error}"
            ) from None
        except Exception as error:
            self._lost(describe_error(error))
            raise ToolError(
                f"The MCP server {self.name!r} failed: {describe_error(error)}"
            ) from None
        is_error, text = read_result(result)
        if is_error:
            raise ToolError(text.strip() or f"{name} failed without saying why.")
        return text

    def _lost(self, why: str) -> None:
        self.error = why
        self._broken.set()

    async def _supervise(self) -> None:
        """Connect, serve until the connection ends, connect again after a growing delay."""
        delay = self.retry_delay
        while True:
            self._broken = asyncio.Event()
            connected = False
            try:
                async with self._session() as client:
                    await self._list(client)
                    self._client, self.error, connected = client, None, True
                    self.connections += 1
                    self._first_attempt.set()
                    delay = self.retry_delay
                    logger.info("MCP server %s: connected, %d tools", self.name, len(self.listed))
                    await self._serve(client)
            except Exception as error:  # whatever ended it: report it, then try again
                if not connected or self.error is None:  # else `_lost` said why already
                    self.error = _failure(error)
            finally:
                self._client = None
            self.error = self.error or "the connection ended"
            logger.warning("MCP server %s: %s; retrying in %g s", self.name, self.error, delay)
            self._first_attempt.set()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_retry_delay)

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Any]:
        from mcp import Client
        from mcp_types import Implementation, ToolListChangedNotification

        async def on_message(message: Any) -> None:
            if isinstance(message, ToolListChangedNotification):
                self._stale.set()

        transport = _observed(
            self._connect(), lambda: self._lost("the server closed the connection")
        )
        client = Client(
            transport,
            message_handler=on_message,
            client_info=Implementation(name="voxtral-agent", version="0"),
            cache=None,
            mode=self.protocol,
        )
        async with client:
            yield client

    async def _serve(self, client: Any) -> None:
        """Until the connection breaks: list the tools again whenever they change."""
        listening = None
        capability = getattr(client.server_capabilities, "tools", None)
        if getattr(capability, "list_changed", False) and _is_modern(client.protocol_version):
            listening = asyncio.create_task(self._listen(client))
        try:
            while not self._broken.is_set():
                await _first_of(self._broken.wait(), self._stale.wait())
                if self._stale.is_set() and not self._broken.is_set():
                    self._stale.clear()
                    await self._list(client)
        finally:
            if listening is not None:
                listening.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listening

    async def _listen(self, client: Any) -> None:
        """The 2026-era way to hear of changes: a ``subscriptions/listen`` stream."""
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for _ in subscription:
                    self._stale.set()
        except Exception as error:
            logger.info("MCP server %s: no change events (%s)", self.name, describe_error(error))

    async def _list(self, client: Any) -> None:
        listed: list[ListedTool] = []
        cursor = None
        for _ in range(100):  # pages; a server that never ends its list cannot hang us
            page = await client.list_tools(cursor=cursor)
            listed.extend(_listed(tool) for tool in page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        self.listed = [tool for tool in listed if self._offered(tool.name)]
        self._tools = {}
        self.left_out = {}
        if self.on_change is not None:
            self.on_change()

    def _offered(self, name: str) -> bool:
        def matches(patterns: Iterable[str]) -> bool:
            return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)

        return (self.include is None or matches(self.include)) and not matches(self.exclude)

    # -- its tools ------------------------------------------------------------------------

    def tool(self, listed: ListedTool, name: str) -> Tool[..., Any] | None:
        """``listed`` as a `Tool` called ``name``; None when its schema cannot be offered
        (then it is in ``left_out``)."""
        key = (listed.name, name)
        if key not in self._tools:
            try:
                made = Tool.from_schema(
                    name,
                    listed.description,
                    listed.input_schema,
                    functools.partial(self.call_tool, listed.name),
                    requires_approval=not (self.trusted or listed.read_only),
                )
            except (TypeError, ValueError) as error:
                if listed.name not in self.left_out:
                    logger.warning(
                        "MCP server %s: tool %r left out: %s", self.name, listed.name, error
                    )
                self.left_out[listed.name] = str(error)
                return None
            made.source = self.name
            self._tools[key] = made
        return self._tools[key]


def valid_tool_name(name: str, *, fallback: str = "tool") -> str:
    """``name`` made a valid tool name: other characters become ``_``, at most 64 kept."""
    made = re.sub(r"[^a-zA-Z0-9_-]", "_", name.strip())[:64].strip("_") or fallback
    assert NAME_PATTERN.fullmatch(made)
    return made


def _listed(tool: Any) -> ListedTool:
    annotations = getattr(tool, "annotations", None)
    schema = dict(tool.input_schema or {})
    schema.setdefault("type", "object")
    return ListedTool(
        name=tool.name,
        description=(tool.description or getattr(tool, "title", None) or "").strip(),
        input_schema=schema,
        read_only=getattr(annotations, "read_only_hint", None) is True,
    )


def _names(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{what}= takes a list of tool names, not one string: [{values!r}]")
    return [str(value) for value in values]


def _name_from_command(words: list[str]) -> str:
    """The name a command line suggests: ``npx -y @scope/server-files ~/x`` → ``server-files``,
    ``node pkg/server-x/dist/index.js`` → ``server-x``."""
    for word in words:
        if word.startswith("-"):
            continue
        parts = [word.rsplit("/", 1)[-1]] if word.startswith("@") else list(Path(word).parts)
        for part in reversed(parts):
            base = re.sub(r"(\.(py|js|mjs|cjs|ts|exe))$|@[\w.^~-]*$", "", part)
            if base and base not in _GENERIC_PARTS:
                break
        else:
            continue
        if base not in _LAUNCHERS:
            return base
    return "mcp"


def _errlog(stderr: TextIO | None) -> TextIO:
    """Where a server's stderr goes: a file with a descriptor (the process inherits it).

    ``sys.stderr`` may have none (a notebook, pytest's capture): then the real stderr.
    """
    for candidate in (stderr, sys.stderr, sys.__stderr__):
        if candidate is None:
            continue
        try:
            candidate.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
            continue
        return candidate
    return open(os.devnull, "w")  # lives as long as the server


def _is_modern(version: str | None) -> bool:
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    return version in MODERN_PROTOCOL_VERSIONS


def _failure(error: BaseException) -> str:
    """The innermost reason of an error (the SDK's task groups wrap them in groups)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return describe_error(error)


async def _first_of(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


@contextlib.asynccontextmanager
async def _owning(http_client: Any, transport: Any) -> AsyncIterator[Any]:
    """The HTTP transport, closing the HTTP client it was given when it ends."""
    async with http_client, transport as streams:
        yield streams


@contextlib.asynccontextmanager
async def _observed(transport: Any, on_end: Callable[[], None]) -> AsyncIterator[Any]:
    """A transport whose read stream calls ``on_end`` when it ends (a stdio server exited)."""
    async with transport as (read_stream, write_stream):
        yield _ObservedStream(read_stream, on_end), write_stream


class _ObservedStream:
    """A read stream that reports its end; everything else is the stream's."""

    def __init__(self, stream: Any, on_end: Callable[[], None]) -> None:
        self._stream = stream
        self._on_end = on_end

    async def receive(self) -> Any:
        import anyio

        try:
            return await self._stream.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    def __aiter__(self) -> _ObservedStream:
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self) -> _ObservedStream:
        await self._stream.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        result: bool | None = await self._stream.__aexit__(*exc_info)
        return result

    def __getattr__(self, name: str) -> Any:  # last_context, and whatever else a stream has
        return getattr(self._stream, name)
