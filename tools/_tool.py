"""`Tool`: a typed Python function plus the JSON schema the model sees; `tool`: the decorator."""

from __future__ import annotations

import copy
import functools
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar, get_args, get_origin, overload

import docstring_parser
import pydantic
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.fields import FieldInfo

from tools._context import ToolContext
from tools._schema import RecursiveSchemaError, self_contained_draft7
from tools._typeddict import portable_annotation

__all__ = ["NAME_PATTERN", "Tool", "tool"]

P = ParamSpec("P")
R = TypeVar("R")

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""What a tool name must match (Mistral's rule: no dots, no spaces, at most 64 characters)."""

_ARGUMENTS_CONFIG = ConfigDict(
    extra="forbid",  # an unknown argument is a misspelt one: tell the model
    coerce_numbers_to_str=True,  # a model often sends 5 for a string field
)


@dataclass(frozen=True, slots=True)
class _Parameter:
    """How one parameter of the function is filled from the validated arguments."""

    name: str
    field: str | None  # field of the arguments model; None for the ToolContext parameter
    positional_only: bool
    omit_when_unset: bool  # has a Python default: leave it to the function when not given


class Tool(Generic[P, R]):
    """A Python function the model can call, with its name, description and JSON schema.

    Make one with the `tool` decorator. It is still the original callable: ``get_weather("Paris")``
    returns what the undecorated function returns (a coroutine for an ``async def`` tool).

    Attributes:
        function: The original function.
        name: The name the model calls it by.
        description: What the tool does, for the model.
        timeout: Seconds the tool may run, or None for the `Toolbox` default.
        requires_approval: Whether the `Toolbox` asks its approver before every call.
        is_async: Whether calling ``function`` gives an awaitable (runs on the event loop);
            a sync tool runs in a worker thread.
        arguments_model: The pydantic model that validates the model's arguments.
    """

    function: Callable[P, R]
    name: str
    description: str
    timeout: float | None
    requires_approval: bool
    is_async: bool
    arguments_model: type[BaseModel]

    def __init__(
        self,
        function: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        requires_approval: bool = False,
    ) -> None:
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
        if self.is_async and sys.version_info >= (3, 12):
            inspect.markcoroutinefunction(self)
        docstring = _parse_docstring(function)
        self.description = (
            description if description is not None else (docstring.description or "").strip()
        )
        analysis = _analyse(
            function, label, {p.arg_name: p.description for p in docstring.params if p.description}
        )
        self._parameters, self.arguments_model, self._json_schema, self._null_is_default = analysis
        self._context_wanted = any(p.field is None for p in self._parameters)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        kind = "async " if self.is_async else ""
        return f"<{kind}Tool {self.name!r}>"

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema (draft 7, self-contained) of the arguments (a fresh copy)."""
        return copy.deepcopy(self._json_schema)

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
    def wants_context(self) -> bool:
        """Whether the function has a `ToolContext` parameter to fill in."""
        return self._context_wanted

    def bind(
        self, arguments: Mapping[str, Any], context: ToolContext[Any] | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        """Validate ``arguments`` (lax: "5" is fine for an int) into the call's args and kwargs.

        An explicit ``null`` for a parameter that has a default and does not accept None means
        "use the default" (small models send ``null`` for arguments they mean to leave out).

        Raises:
            pydantic.ValidationError: the arguments do not fit the schema.
        """
        if not self._null_is_default.isdisjoint(arguments):
            arguments = {
                key: value
                for key, value in arguments.items()
                if value is not None or key not in self._null_is_default
            }
        validated = self.arguments_model.model_validate(arguments)
        values = validated.__dict__
        given = validated.model_fields_set
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for parameter in self._parameters:
            value = context if parameter.field is None else values[parameter.field]
            if parameter.positional_only:
                args.append(value)
            elif (
                parameter.field is None or not parameter.omit_when_unset or parameter.field in given
            ):
                kwargs[parameter.name] = value
        return args, kwargs


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
    return getattr(_underlying(function), "__name__", None) or type(function).__name__


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


def _underlying(function: Callable[..., Any]) -> Callable[..., Any]:
    while isinstance(function, functools.partial):
        function = function.func
    return function


def _parse_docstring(function: Callable[..., Any]) -> docstring_parser.Docstring:
    text = inspect.getdoc(_underlying(function)) or ""
    try:
        return docstring_parser.parse(text)
    except docstring_parser.ParseError:
        # A docstring the parser cannot read still describes the tool; it just has no params.
        fallback = docstring_parser.Docstring()
        fallback.short_description = text
        return fallback


def _is_async(function: Callable[..., Any]) -> bool:
    target = _underlying(function)
    if inspect.iscoroutinefunction(target):
        return True
    call = getattr(type(target), "__call__", None)  # noqa: B004 (the class's __call__)
    return not inspect.isroutine(target) and inspect.iscoroutinefunction(call)


def _type_hints(function: Callable[..., Any], label: str) -> dict[str, Any]:
    target = _underlying(function)
    if not inspect.isroutine(target) and not isinstance(target, type):
        target = type(target).__call__  # a callable object: read its __call__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except NameError as error:
        failure: Exception = error
    # String annotations (`from __future__ import annotations`) may name types local to the
    # scope that defines the tool; like pydantic, look them up in the callers' frames.
    for scope in _caller_scopes():
        try:
            return typing.get_type_hints(target, localns=scope, include_extras=True)
        except NameError:
            continue
        except Exception as error:
            failure = error
            break
    raise TypeError(
        f"{label}: cannot resolve its type annotations ({type(failure).__name__}: {failure}); "
        "define the types it uses at module level"
    ) from failure


def _caller_scopes(limit: int = 16) -> Iterator[dict[str, Any]]:
    """The local namespaces of the frames that called into this package, innermost first."""
    frame = sys._getframe(1)
    while frame is not None and limit > 0:
        if frame.f_globals.get("__name__", "").partition(".")[0] != __name__.partition(".")[0]:
            yield frame.f_locals
            limit -= 1
        frame = frame.f_back  # type: ignore[assignment]


def _is_context(annotation: Any) -> bool:
    """Whether the annotation asks for the ToolContext (also optional or Annotated)."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _is_context(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_context(arg) for arg in get_args(annotation) if arg is not type(None))
    origin = origin or annotation
    return isinstance(origin, type) and issubclass(origin, ToolContext)


def _analyse(
    function: Callable[..., Any], label: str, documented: dict[str, str]
) -> tuple[list[_Parameter], type[BaseModel], dict[str, Any], frozenset[str]]:
    """Read the signature: how to fill each parameter, the arguments model, the JSON schema,
    and the parameters for which a ``null`` argument means "the default"."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{label}: cannot read its signature ({error})") from error
    hints = _type_hints(function, label)
    parameters: list[_Parameter] = []
    fields: dict[str, Any] = {}
    for index, parameter in enumerate(signature.parameters.values()):
        where = f"{label}: parameter {parameter.name!r}"
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            star = "*" if parameter.kind is parameter.VAR_POSITIONAL else "**"
            raise TypeError(
                f"{label}: parameter '{star}{parameter.name}' is not allowed; a tool takes "
                "named, typed parameters only"
            )
        annotation = hints.get(parameter.name, parameter.annotation)
        if annotation is inspect.Parameter.empty:
            hint = " (for a method, pass the bound method: tool(obj.method))"
            raise TypeError(
                f"{where} has no type annotation; the model needs a type to fill it"
                + (hint if parameter.name in ("self", "cls") else "")
            )
        positional_only = parameter.kind is parameter.POSITIONAL_ONLY
        default = parameter.default
        if _is_context(annotation):
            parameters.append(_Parameter(parameter.name, None, positional_only, True))
            continue
        if isinstance(default, FieldInfo):
            # `x: int = Field(3, description=...)`: pydantic's spelling of a described default.
            # The function itself would get the FieldInfo, so the value is always passed.
            annotation = typing.Annotated[annotation, default]
            default = inspect.Parameter.empty
        field = f"p{index}"  # the parameter name is the alias: any name works, even `_x`/`json`
        fields[field] = (
            portable_annotation(annotation),
            _field_info(annotation, parameter.name, default, documented.get(parameter.name)),
        )
        omit_when_unset = default is not inspect.Parameter.empty
        parameters.append(_Parameter(parameter.name, field, positional_only, omit_when_unset))
    model = _arguments_model(label, fields)
    null_is_default = frozenset(
        info.alias or name
        for name, info in model.model_fields.items()
        if not info.is_required() and not _accepts_none(fields[name][0])
    )
    return parameters, model, _parameters_schema(model, label), null_is_default


def _accepts_none(annotation: Any) -> bool:
    try:
        TypeAdapter(annotation).validate_python(None)
    except Exception:
        return False
    return True


def _field_info(annotation: Any, alias: str, default: Any, documented: str | None) -> FieldInfo:
    # Pass only what is known: an explicit None would override Annotated[..., Field(...)].
    settings: dict[str, Any] = {"alias": alias}
    if default is not inspect.Parameter.empty:
        settings["default"] = default
    described = any(
        isinstance(meta, FieldInfo) and meta.description
        for meta in getattr(annotation, "__metadata__", ())
    )
    if documented and not described:
        settings["description"] = documented
    return typing.cast(FieldInfo, Field(**settings))


def _arguments_model(label: str, fields: dict[str, Any]) -> type[BaseModel]:
    try:
        return pydantic.create_model(f"{label}_arguments", __config__=_ARGUMENTS_CONFIG, **fields)
    except Exception as error:
        raise _unsupported_type_error(label, fields, error) from error


def _parameters_schema(model: type[BaseModel], label: str) -> dict[str, Any]:
    try:
        raw = model.model_json_schema()
    except Exception as error:
        fields = {name: (info.annotation, info) for name, info in model.model_fields.items()}
        raise _unsupported_type_error(label, fields, error) from error
    parameters: dict[str, Any] = {"type": "object", "properties": {}}
    for alias, schema in raw.get("properties", {}).items():
        try:
            parameters["properties"][alias] = self_contained_draft7(
                {**schema, "$defs": raw.get("$defs", {})}
            )
        except RecursiveSchemaError as error:
            raise RecursiveSchemaError(f"{label}: parameter {alias!r}: {error}") from error
    if raw.get("required"):
        parameters["required"] = list(raw["required"])
    return parameters


def _unsupported_type_error(label: str, fields: dict[str, Any], error: Exception) -> TypeError:
    """Find which parameter's type pydantic cannot handle, to name it in the error."""
    for annotation, info in fields.values():
        try:
            TypeAdapter(annotation).json_schema()
        except Exception as cause:
            return TypeError(
                f"{label}: parameter {info.alias!r} has type {_type_name(annotation)}, which has "
                f"no JSON schema ({type(cause).__name__}: {_first_line(cause)}); use JSON-like "
                "types: str, int, float, bool, Literal, Enum, list, dict, pydantic models, "
                "dataclasses, TypedDicts"
            )
    return TypeError(f"{label}: cannot build its argument schema ({error})")


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else ""
