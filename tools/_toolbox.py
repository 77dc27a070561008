"""`Toolbox`: the tools of an agent, and the dispatcher that runs the model's calls safely."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeAlias

from pydantic import ValidationError

from tools._calls import Arguments, ToolCallSpec, parse_arguments, read_call
from tools._content import describe_validation_error, render_value, truncate
from tools._context import ToolContext
from tools._errors import ToolError
from tools._fanout import BEGUN, ToolFinishedHook, ToolStartedHook, fan_out, is_cancelling
from tools._mcp import MCPServer
from tools._printing import describe_error, log_failure, safe_repr, safe_str, type_name
from tools._result import ErrorKind, ToolResult
from tools._schema_arguments import InvalidArgumentsError
from tools._sources import offered_tools
from tools._sync import run_sync
from tools._threads import WorkerInterrupted, WorkerThreads
from tools._tokens import schema_tokens
from tools._tool import Tool, tool

__all__ = ["Approver", "Toolbox"]

logger = logging.getLogger("tools")

Approver: TypeAlias = (
    Callable[[str, dict[str, Any]], bool | Awaitable[bool]]
    | Callable[[str, dict[str, Any], Tool[..., Any]], bool | Awaitable[bool]]
)
"""``approve(name, arguments) -> bool`` (or an awaitable of one): may this call run?

An approver that takes a third argument gets the `Tool` too: its ``source`` is the name of
the MCP server that offers it (None for the app's own tools)."""

_DEFAULT_BUDGET_SHARE = 0.25


class _Unset:
    """Marks an argument that was not given (None is a valid state)."""


_UNSET: Any = _Unset()

_threads = WorkerThreads(max_threads=64, name="voxagent-tool")
"""Threads for sync tools and approvers, apart from the loop's default executor: a sync tool
that overruns its timeout cannot be stopped and keeps its thread, so a separate set keeps such
tools from starving everything else that uses ``asyncio.to_thread``."""


class Toolbox:
    """The tools an agent offers, and the dispatcher for the model's tool calls.

    `call` never raises for anything the model or a tool did: every failure (unknown tool, bad
    JSON, invalid arguments, the tool raising, a timeout, a refused approval) becomes a
    `ToolResult` with ``ok=False`` and a short message the model can act on. Cancelling the
    task that awaits `call` cancels the call; `call_many`, cancelled, lets the calls it has
    already dispatched finish (see there).

    Sync tools run in worker threads, async tools on the event loop. A sync tool that runs past
    its timeout gets a timeout result but cannot be stopped: it finishes in its thread and its
    value is dropped (make long sync tools check their own deadline, or write them async). The
    threads are daemons, so a hung tool never delays the process's exit.

    Tools may also come from MCP servers (`MCPServer`): ``await box.start()`` connects them
    and lists their tools (`Agent.run` does it), ``await box.aclose()`` closes them (`Agent.aclose`
    does it); until then only the box's own tools are offered.

    Args:
        tools: Tools, plain functions (made tools with `tool`), other toolboxes (their tools
            are added; their approver and settings are not), or `MCPServer` objects.
        approve: Asked before each call of a tool with ``requires_approval`` (after its
            arguments validated); the call runs only if it returns ``True`` (anything else, or
            raising, refuses). May be sync (it runs in a worker thread, so it may block on user
            input) or async; one that takes a third argument gets the `Tool` as well (its
            ``source`` names the MCP server). Without one, such tools are refused.
        default_timeout: Seconds a tool without its own ``timeout`` may run (None: no limit).
        max_result_chars: Longest ``content`` sent back to the model; longer is cut with a marker.
        state: The default agent state given to tools through `ToolContext`.
        servers: MCP servers whose tools the box offers too (see `add_server`).
        budget_share: The share of the server's context (``max_model_len``) the tool schemas
            may take before `start` logs a warning (they are sent with every request).

    Raises:
        ValueError: two tools share a name.
    """

    def __init__(
        self,
        tools: Iterable[Tool[..., Any] | Callable[..., Any] | Toolbox | MCPServer] = (),
        *,
        approve: Approver | None = None,
        default_timeout: float | None = 30.0,
        max_result_chars: int = 4000,
        state: Any = None,
        servers: Iterable[MCPServer] = (),
        budget_share: float = _DEFAULT_BUDGET_SHARE,
    ) -> None:
        if default_timeout is not None and not default_timeout > 0:
            raise ValueError("default_timeout must be a positive number of seconds or None")
        if max_result_chars < 1:
            raise ValueError("max_result_chars must be at least 1")
        self.approve = approve
        self.default_timeout = default_timeout
        self.max_result_chars = max_result_chars
        self.state = state
        self.budget_share = budget_share
        self._own: dict[str, Tool[..., Any]] = {}
        self._tools: dict[str, Tool[..., Any]] = {}
        self._servers: list[MCPServer] = []
        self._warned_budget: tuple[int, int] | None = None
        for item in tools:
            if isinstance(item, Toolbox):
                for member in item._own.values():
                    self.add(member)
                for server in item._servers:
                    self.add_server(server)
            elif isinstance(item, MCPServer):
                self.add_server(item)
            else:
                self.add(item)
        for server in servers:
            self.add_server(server)

    # -- the collection -------------------------------------------------------------------

    def add(self, function: Tool[..., Any] | Callable[..., Any]) -> Tool[..., Any]:
        """Add a tool (a plain function is made one with `tool`) and return it.

        Works as a decorator too: ``@box.add``.

        Raises:
            ValueError: a tool with the same name is already in the box.
            TypeError: a method decorated in its class body, taken from the class rather than
                from an instance.
        """
        added = function if isinstance(function, Tool) else tool(function)
        if added.needs_instance:
            raise TypeError(
                f"tool {added.name!r} is a method taken from its class; add it from an "
                f"instance instead (Toolbox([obj.{added.function.__name__}]))"
            )
        if added.name in self._own:
            raise ValueError(
                f"duplicate tool name {added.name!r}: each tool in a Toolbox needs its own name "
                "(pass tool(name=...) to rename one)"
            )
        self._own[added.name] = added
        self._offer()
        return added

    # -- MCP servers ----------------------------------------------------------------------

    def add_server(self, server: MCPServer) -> MCPServer:
        """Offer the tools of an MCP server too (once the box has started); return it.

        Its tools keep their names, made valid; one that another server or the box's own
        tools also offer is prefixed with the server's name (``files_read_file``).

        Raises:
            ValueError: the server is in this box already, or has the name of one that is.
        """
        if not isinstance(server, MCPServer):
            raise TypeError(f"add_server() takes an MCPServer, not {safe_repr(server)}")
        if any(server is known or server.name == known.name for known in self._servers):
            raise ValueError(
                f"MCP server {server.name!r} is in this Toolbox already (give each server its "
                "own name=)"
            )
        self._servers.append(server)
        server.on_change = self._offer
        self._offer()
        return server

    @property
    def servers(self) -> list[MCPServer]:
        """The MCP servers whose tools the box offers."""
        return list(self._servers)

    async def start(self, *, max_model_len: int | None = None) -> None:
        """Connect the MCP servers not yet started and list their tools (concurrently).

        A server that cannot be reached does not fail this: its ``error`` says why, a
        warning is logged, and it is tried again in the background (its tools appear once it
        answers). With ``max_model_len``, warns (logger ``"tools"``) when the tool schemas
        take more than ``budget_share`` of it. Calling it again is cheap.

        Raises:
            ModuleNotFoundError: the box has MCP servers and the ``mcp`` extra is missing.
        """
        waiting = [server.start() for server in self._servers if not server.started]
        if waiting:
            await asyncio.gather(*waiting)
            self._offer()
        if max_model_len:
            self._check_budget(max_model_len)

    async def aclose(self) -> None:
        """Close the MCP servers' connections (stdio servers are stopped)."""
        await asyncio.gather(*(server.aclose() for server in self._servers))

    async def __aenter__(self) -> Toolbox:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def schema_tokens(self) -> int:
        """The estimated tokens the tool schemas cost every request (the project's estimate,
        as `agent.history` counts them)."""
        return schema_tokens(self.schemas())

    def _offer(self) -> None:
        """Recompute the offered names (the box's own tools, then the servers')."""
        self._tools = offered_tools(self._own, self._servers)

    def _check_budget(self, max_model_len: int) -> None:
        cost = self.schema_tokens()
        if cost > self.budget_share * max_model_len and self._warned_budget != (
            cost,
            max_model_len,
        ):
            self._warned_budget = (cost, max_model_len)
            logger.warning(
                "the %d tool schemas take about %d tokens of every request, over %d%% of the "
                "server's %d-token context; leave some out (MCPServer include=/exclude=)",
                len(self._tools), cost, round(self.budget_share * 100), max_model_len,
            )  # fmt: skip

    def get(self, name: str) -> Tool[..., Any] | None:
        """The tool called ``name``, or None."""
        return self._tools.get(name)

    def __getitem__(self, name: str) -> Tool[..., Any]:
        return self._tools[name]

    @property
    def names(self) -> list[str]:
        """The tool names, in registration order."""
        return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """The tools as the chat API's ``tools`` list, in registration order."""
        return [member.schema for member in self._tools.values()]

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Tool):  # the same tool, or one of the same function (bound method)
            found = self._tools.get(item.name)
            return found is item or (found is not None and found.function == item.function)
        return item in self._tools

    def __iter__(self) -> Iterator[Tool[..., Any]]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"Toolbox({self.names!r})"

    # -- dispatch -------------------------------------------------------------------------

    async def call(
        self,
        name: str,
        arguments: Arguments = None,
        call_id: str = "",
        *,
        state: Any = _UNSET,
    ) -> ToolResult:
        """Run one tool call from the model and return its result; never raises for a failure.

        Whatever the tool, its validators or the approver raise (any exception object, even
        one that cannot be printed, a `BaseException` included) becomes a failed result; only
        the cancellation of the calling task goes through (and cancels the call).

        Args:
            name: The tool name the model gave. When no tool has exactly that name, the only
                one that matches it but for case, ``-``/``_`` and spaces is called.
            arguments: The arguments: JSON text as the model sent it, a dict, or None (none).
            call_id: The server's id for this call (copied into the result).
            state: The agent state for `ToolContext` (default: the box's ``state``).
        """
        call = _Call(self, name, call_id)
        try:
            return await self._dispatch(call, arguments, state)
        except BaseException as error:  # a last net: every expected failure is handled inside
            _reraise_cancellation(error)
            return self._raised(call, error)

    async def call_many(
        self,
        calls: Iterable[ToolCallSpec],
        *,
        state: Any = _UNSET,
        on_started: ToolStartedHook | None = None,
        on_finished: ToolFinishedHook | None = None,
    ) -> list[ToolResult]:
        """Run several calls concurrently; one result per call, in the order of ``calls``.

        Each call is ``(name, arguments)``, ``(name, arguments, call_id)``, an OpenAI-style tool
        call dict, or an object with ``.id``, ``.name`` and ``.arguments`` (or ``.id`` and
        ``.function``, as the openai client returns). Like `call`, it never raises for what a
        tool did.

        Args:
            state: The agent state for `ToolContext` (default: the box's ``state``).
            on_started: ``on_started(call_id, name, arguments)``, right before each call is
                dispatched (``arguments`` as the toolbox reads them: ``{}`` when not an object).
            on_finished: ``on_finished(result)``, right after each call finishes.

        Each hook may be sync or async; one that raises is logged (logger ``"tools"``) and
        changes nothing. Cancelled, ``call_many`` starts no further call, lets the calls already
        dispatched run to their end (their ``on_finished`` still runs, so their side effects
        are known) and then raises `asyncio.CancelledError`; a second cancellation stops that
        wait (the calls still finish, unobserved but for their hooks).

        Raises:
            ValueError, TypeError: an item of ``calls`` is no tool call (before any call runs).
        """
        specs = [read_call(item) for item in calls]
        call_one = functools.partial(self.call, state=state)
        return await fan_out(call_one, specs, on_started, on_finished)

    def call_sync(
        self, name: str, arguments: Arguments = None, call_id: str = "", *, state: Any = _UNSET
    ) -> ToolResult:
        """`call` for code with no event loop running (it runs on the sync wrappers' loop).

        Raises:
            RuntimeError: called while an event loop runs in this thread (``await call`` there).
        """
        return run_sync(
            self.call(name, arguments, call_id, state=state),
            what="Toolbox.call_sync()",
            instead="await box.call(...)",
        )

    def _find(self, name: str) -> Tool[..., Any] | None:
        """The tool ``name`` means: exactly that name, else the only one that matches it but
        for case, ``-``/``_`` and surrounding spaces (small models slip on those)."""
        member = self._tools.get(name)
        if member is None:
            wanted = _loose(name)
            matches = [found for key, found in self._tools.items() if _loose(key) == wanted]
            if len(matches) == 1:
                member = matches[0]
        return member

    async def _dispatch(self, call: _Call, arguments: Arguments, state: Any) -> ToolResult:
        parsed = parse_arguments(arguments)
        if isinstance(parsed, dict):
            call.arguments = parsed
        member = self._find(call.name)
        if member is None:
            available = ", ".join(self._tools) or "none"
            message = f"Unknown tool {call.name!r}. Available tools: {available}."
            return call.failed("unknown_tool", message)
        call.name = name = member.name
        if isinstance(parsed, str):
            return call.failed("invalid_arguments", f"Invalid arguments for {name}: {parsed}.")
        bound = self._bind(call, member, parsed, self.state if state is _UNSET else state)
        if isinstance(bound, ToolResult):
            return bound
        if member.requires_approval:
            refusal = await self._ask_approval(member, dict(parsed))
            if refusal is not None:
                return call.failed("not_approved", refusal)
        return await self._run(call, member, *bound)

    def _bind(
        self, call: _Call, member: Tool[..., Any], parsed: dict[str, Any], state: Any
    ) -> tuple[list[Any], dict[str, Any]] | ToolResult:
        """The call's args and kwargs, or the failed result saying what is wrong with them."""
        context = None
        if member.wants_context:
            context = ToolContext(
                call_id=call.call_id, tool_name=member.name, state=state, arguments=dict(parsed)
            )
        try:
            return member.bind(parsed, context)
        except ValidationError as error:
            reason = describe_validation_error(error)
        except InvalidArgumentsError as error:  # a `from_schema` tool's: already a summary
            reason = str(error)
        except BaseException as error:  # a custom validator raising anything (sync: no cancel)
            log_failure(logger, error, "validating arguments of %s raised", member.name)
            reason = describe_error(error)
        return call.failed("invalid_arguments", f"Invalid arguments for {member.name}: {reason}.")

    async def _ask_approval(self, member: Tool[..., Any], arguments: dict[str, Any]) -> str | None:
        """None when the call may run, else why not (for the model)."""
        name = member.name
        if self.approve is None:
            return (
                f"Approval refused: {name} needs the user's approval and no approver is "
                "configured, so it did not run."
            )
        try:
            answer = await _answer(self.approve, member, arguments)
        except BaseException as error:
            _reraise_cancellation(error)
            cause = _unwrap(error)
            log_failure(logger, cause, "approver failed for tool %s", name)
            reason = describe_error(cause)
            return f"Approval refused: asking about {name} failed ({reason}), so it did not run."
        if answer is not True:  # only a clear yes: "no", 1 or None must not run a side effect
            if answer is not False:
                shown = safe_repr(answer)
                logger.warning("approver answered %s for tool %s, not True: refused", shown, name)
            return f"Approval refused: the user did not approve {name}, so it did not run."
        return None

    async def _run(
        self, call: _Call, member: Tool[..., Any], args: list[Any], kwargs: dict[str, Any]
    ) -> ToolResult:
        limit = member.timeout if member.timeout is not None else self.default_timeout
        deadline = asyncio.timeout(limit)
        begun = BEGUN.get()
        if begun is not None:
            begun.set()
        try:
            async with deadline:
                value = await _invoke(member, args, kwargs)
        except ToolError as error:
            message = _tool_error_message(error)
            logger.info("tool %s reported: %s", member.name, message)
            return call.failed("tool_error", message)
        except TimeoutError as error:
            if not deadline.expired():  # the tool's own TimeoutError: a failure like any other
                return self._raised(call, error)
            logger.warning("tool %s timed out after %s s", member.name, limit)
            message = f"{member.name} timed out: no result within its {limit:g} s timeout."
            return call.failed("timeout", message)
        except BaseException as error:  # anything, even a CancelledError of the tool's own
            _reraise_cancellation(error)
            return self._raised(call, error)
        return call.succeeded(value)

    def _raised(self, call: _Call, error: BaseException) -> ToolResult:
        error = _unwrap(error)
        log_failure(logger, error, "tool %s raised %s", call.name, type_name(error))
        return call.failed("exception", f"{call.name} failed: {describe_error(error)}")


class _Call:
    """The bookkeeping of one call, to build its `ToolResult`."""

    __slots__ = ("arguments", "box", "call_id", "name", "started")

    def __init__(self, box: Toolbox, name: str, call_id: str) -> None:
        self.box = box
        self.name = name
        self.call_id = call_id
        self.started = time.perf_counter()
        self.arguments: dict[str, Any] = {}

    def failed(self, kind: ErrorKind, message: str) -> ToolResult:
        if not message.strip():
            message = f"{self.name} failed without saying why."
        content = truncate(message, self.box.max_result_chars)
        return ToolResult(
            ok=False,
            content=content,
            error=content,
            error_kind=kind,
            name=self.name,
            arguments=self.arguments,
            call_id=self.call_id,
            duration=time.perf_counter() - self.started,
        )

    def succeeded(self, value: Any) -> ToolResult:
        return ToolResult(
            ok=True,
            content=truncate(render_value(value), self.box.max_result_chars),
            value=value,
            name=self.name,
            arguments=self.arguments,
            call_id=self.call_id,
            duration=time.perf_counter() - self.started,
        )


async def _invoke(member: Tool[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call the tool: an async one on the loop, a sync one in a worker thread."""
    if member.is_async:
        return await member.function(*args, **kwargs)
    context = contextvars.copy_context()
    value = await _threads.run(functools.partial(context.run, member.function, *args, **kwargs))
    if inspect.isawaitable(value):
        value = await value
    return value


async def _answer(approve: Approver, member: Tool[..., Any], arguments: dict[str, Any]) -> Any:
    """The approver's answer: an async one awaited, a sync one run in a worker thread (it may
    block on the user: ``input()``)."""
    given: tuple[Any, ...] = (member.name, arguments)
    if _takes_tool(approve):
        given = (*given, member)
    if inspect.iscoroutinefunction(approve):
        answer: Any = await approve(*given)
    else:
        answer = await _threads.run(functools.partial(approve, *given))
    if inspect.isawaitable(answer):
        answer = await answer
    return answer


def _takes_tool(approve: Approver) -> bool:
    """Whether the approver takes a third argument (the `Tool`)."""
    try:
        inspect.signature(approve).bind(None, None, None)
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): call it the old way
        return False
    return True


def _reraise_cancellation(error: BaseException) -> None:
    """Raise ``error`` again when it is the running task's cancellation (it must go on)."""
    if isinstance(error, asyncio.CancelledError) and is_cancelling():
        raise error


def _tool_error_message(error: ToolError) -> str:
    """The message of a `ToolError` as plain text, however oddly it was made."""
    try:
        message = error.message
    except Exception:  # a subclass that never set it, or a property that raises
        return describe_error(error)
    return str.__str__(message) if isinstance(message, str) else safe_str(message)


def _unwrap(error: BaseException) -> BaseException:
    """The error a job raised in its worker thread (KeyboardInterrupt there comes wrapped)."""
    return error.error if isinstance(error, WorkerInterrupted) else error


def _loose(name: str) -> str:
    return name.strip().casefold().replace("-", "_")
