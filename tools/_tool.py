"""`Tool`: a typed Python function plus the JSON schema the model sees; `tool`: the decorator."""

from __future__ import annotations

import copy
import functools
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, overload

import docstring_parser
from pydantic import BaseModel

from tools._context import ToolContext
from tools._schema_arguments import SchemaArguments
from tools._signature import Signature, unwrap_partial

__all__ = ["NAME_PATTERN", "Tool", "tool"]

P = ParamSpec("P")
R = TypeVar("R")

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""What a tool name must match (Mistral's rule: no dots, no spaces, at most 64 characters)."""


class Tool(Generic[P, R]):
    """A Python function the model can call, with its name, description and JSON schema.

    Make one with the `tool` decorator. It is still the original callable: ``get_weather("Paris")``
    returns what the undecorated function returns (a coroutine for an ``async def`` tool).
    A method decorated in its class body, read from an instance, is that instance's tool
    (``Toolbox([home.switch_on])``); its schema leaves ``self`` out.

    Attributes:
        function: The original function.
        name: The name the model calls it by.
        description: What the tool does, for the model.
        timeout: Seconds the tool may run, or None for the `Toolbox` default.
        requires_approval: Whether the `Toolbox` asks its approver before every call.
        is_async: Whether calling ``function`` gives an awaitable (runs on the event loop);
            a sync tool runs in a worker thread.
        arguments_model: The pydantic model that validates the model's arguments (None for a
            tool made with `from_schema`: its JSON schema validates them).
        source: Where the tool comes from: None for the app's own, else the name of the
            `MCPServer` that offers it.
    """

    function: Callable[P, R]
    __wrapped__: Callable[..., Any]
    name: str
    description: str
    timeout: float | None
    requires_approval: bool
    is_async: bool
    arguments_model: type[BaseModel] | None
    source: str | None = None
    _arguments: Signature | SchemaArguments

    def __init__(
        self,
        function: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        requires_approval: bool = False,
    ) -> None:
        self._unbound_method = _is_method(function)
        label = self._adopt(function, name, timeout, requires_approval)
        docstring = _parse_docstring(function)
        self.description = (
            description if description is not None else (docstring.description or "").strip()
        )
        documented = {p.arg_name: p.description for p in docstring.params if p.description}
        signature = Signature.read(function, label, documented, skip_self=self._unbound_method)
        self._arguments = signature
        self.arguments_model = signature.model

    @classmethod
    def from_schema(
        cls,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        function: Callable[[dict[str, Any]], Any],
        *,
        timeout: float | None = None,
        requires_approval: bool = False,
    ) -> Tool[[dict[str, Any]], Any]:
        """A tool whose arguments a JSON schema describes (from a config file, an MCP server...).

        The model's arguments are validated against ``parameters`` with ``jsonschema`` (as
        given: strict, no coercion), and ``function`` (sync or async) gets them as one dict.
        The schema offered to the model is ``parameters`` made what vLLM's structured output
        accepts (references inlined, no ``uniqueItems``, tuples as uniform arrays, unknown
        formats dropped). Everything `Toolbox` does holds: failures as results, timeouts,
        approval.

        Raises:
            ValueError: an invalid name, timeout or schema; a schema that does not describe an
                object, or that cannot be offered (the message names the keyword).
            TypeError: ``function`` is not callable, or ``parameters`` is not a mapping.
        """
        made: Tool[[dict[str, Any]], Any] = object.__new__(Tool)
        made._unbound_method = False
        label = made._adopt(function, name, timeout, requires_approval)
        if not isinstance(description, str):
            raise TypeError(f"{label}: description must be a str, not {type(description).__name__}")
        made.description = description
        made._arguments = SchemaArguments.read(parameters, label)
        made.arguments_model = None
        return made

    def _adopt(
        self,
        function: Callable[..., Any],
        name: str | None,
        timeout: float | None,
        requires_approval: bool,
    ) -> str:
        """Take ``function`` and the options every tool has; return how errors name the tool."""
        if not callable(function):
            raise TypeError(f"tool() needs a function, got {function!r}")
        functools.update_wrapper(self, function)
        self.function = function
        self.name = _tool_name(function, name)
        label = _label(function, self.name)
        if timeout is not None and not timeout > 0:
            raise ValueError(f"{label}: timeout must be a positive number of seconds or None")
        self.timeout = None if timeout is None else float(timeout)
        self.requires_approval = bool(requires_approval)
        self.is_async = _is_async(function)
        if inspect.isfunction(function):
            # Answer `inspect` as the function does (iscoroutinefunction...): Python 3.11
            # reads these attributes from any callable that has them.
            self.__code__ = function.__code__
            self.__defaults__ = function.__defaults__
            self.__kwdefaults__ = function.__kwdefaults__
        elif self.is_async and sys.version_info >= (3, 12):
            inspect.markcoroutinefunction(self)
        return label

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.function(*args, **kwargs)

    def __get__(self, instance: object, owner: type[Any] | None = None) -> Tool[..., R]:
        """A method decorated in its class body, read from an instance: that instance's tool."""
        if instance is None or not self._unbound_method:
            return self
        bound: Tool[..., R] = copy.copy(self)
        bound.function = bound.__wrapped__ = types.MethodType(self.function, instance)
        bound._unbound_method = False
        return bound

    def __repr__(self) -> str:
        kind = "async " if self.is_async else ""
        return f"<{kind}Tool {self.name!r}>"

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema (draft 7, self-contained) of the arguments (a fresh copy)."""
        return copy.deepcopy(self._arguments.schema)

    @property
    def schema(self) -> dict[str, Any]:
        """The tool as the chat API wants it: ``{"type": "function", "function": {...}}``."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    @property
    def needs_instance(self) -> bool:
        """Whether this is a method tool read from its class: take it from an instance to use
        it (``Toolbox([home.lights])``); its schema already leaves ``self`` out."""
        return self._unbound_method

    @property
    def wants_context(self) -> bool:
        """Whether the function has a `ToolContext` parameter to fill in."""
        return self._arguments.wants_context

    def bind(
        self, arguments: Mapping[str, Any], context: ToolContext[Any] | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        """Validate ``arguments`` (lax: "5" is fine for an int) into the call's args and kwargs.

        An explicit ``null`` for a parameter that has a default and does not accept None means
        "use the default" (small models send ``null`` for arguments they mean to leave out).

        Raises:
            pydantic.ValidationError: the arguments do not fit the schema.
            InvalidArgumentsError: (a `from_schema` tool: ``ValueError``) they do not fit it.
        """
        return self._arguments.bind(arguments, context)


@overload
def tool(function: Callable[P, R], /) -> Tool[P, R]: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    requires_approval: bool = False,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...
def tool(
    function: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    requires_approval: bool = False,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a `Tool` of a typed function; use bare (``@tool``) or with options (``@tool(...)``).

    The schema comes from the signature (pydantic), the descriptions from the docstring (Google,
    NumPy or reST style) and from ``Annotated[..., Field(description=...)]``. A parameter
    annotated `ToolContext` is filled in at call time and hidden from the model.

    Args:
        function: The function (when used bare or called directly).
        name: The tool name (default: the function's name); must match `NAME_PATTERN`.
        description: What the tool does (default: the docstring, without its sections).
        timeout: Seconds the tool may run (default: the `Toolbox`'s ``default_timeout``).
        requires_approval: Ask the `Toolbox`'s approver before each call.

    Raises:
        TypeError: a parameter without annotation, ``*args``/``**kwargs``, or a type that has
            no JSON schema (the message names the function and the parameter).
        ValueError: an invalid name or timeout.
    """

    def decorate(target: Callable[P, R]) -> Tool[P, R]:
        if isinstance(target, Tool):
            if function is not None:
                return target  # tool(already_a_tool): nothing to change
            if isinstance(target._arguments, SchemaArguments):  # no signature to read again
                remade: Any = Tool.from_schema(
                    name if name is not None else target.name,
                    description if description is not None else target.description,
                    target._arguments.original,
                    target.function,
                    timeout=timeout if timeout is not None else target.timeout,
                    requires_approval=requires_approval or target.requires_approval,
                )
                return typing.cast(Tool[P, R], remade)
            return Tool(
                target.function,
                name=name if name is not None else target.name,
                description=description if description is not None else target.description,
                timeout=timeout if timeout is not None else target.timeout,
                requires_approval=requires_approval or target.requires_approval,
            )
        return Tool(
            target,
            name=name,
            description=description,
            timeout=timeout,
            requires_approval=requires_approval,
        )

    if function is not None:
        return decorate(function)
    return decorate


def _function_name(function: Callable[..., Any]) -> str:
    return getattr(unwrap_partial(function), "__name__", None) or type(function).__name__


def _tool_name(function: Callable[..., Any], name: str | None) -> str:
    if name is None:
        name = _function_name(function)
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"invalid tool name {name!r} for function {_function_name(function)!r}: a name is "
            f"1 to 64 letters, digits, '_' or '-' (pattern {NAME_PATTERN.pattern}); "
            "pass tool(name=...)"
        )
    return name


def _label(function: Callable[..., Any], name: str) -> str:
    """How errors name the tool: its name, and the function's when they differ."""
    function_name = _function_name(function)
    if function_name == name:
        return f"tool {name!r}"
    return f"tool {name!r} (function {function_name!r})"


def _parse_docstring(function: Callable[..., Any]) -> docstring_parser.Docstring:
    text = inspect.getdoc(unwrap_partial(function)) or ""
    try:
        return docstring_parser.parse(text)
    except docstring_parser.ParseError:
        # A docstring the parser cannot read still describes the tool; it just has no params.
        fallback = docstring_parser.Docstring()
        fallback.short_description = text
        return fallback


def _is_method(function: Callable[..., Any]) -> bool:
    """Whether ``function`` is defined in a class body and takes ``self`` first."""
    if not inspect.isfunction(function):
        return False
    owner = function.__qualname__.rpartition(".")[0]
    if not owner or owner.endswith("<locals>"):
        return False
    first = next(iter(inspect.signature(function).parameters.values()), None)
    return first is not None and first.name == "self" and first.kind in _POSITIONAL


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _is_async(function: Callable[..., Any]) -> bool:
    target = unwrap_partial(function)
    if inspect.iscoroutinefunction(target):
        return True
    call = getattr(type(target), "__call__", None)  # noqa: B004 (the class's __call__)
    return not inspect.isroutine(target) and inspect.iscoroutinefunction(call)
