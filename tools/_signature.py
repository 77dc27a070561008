"""`Signature`: how the model's arguments become a call of a tool function.

From the function's signature and type hints: a pydantic model that validates the arguments
(lax: "5" is fine for an int), the self-contained draft-7 JSON schema the model sees, and the
binding of validated values to the function's parameters, `ToolContext` included.
"""

from __future__ import annotations

import functools
import inspect
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, get_args, get_origin

import pydantic
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.fields import FieldInfo

from tools._context import ToolContext
from tools._schema import RecursiveSchemaError, self_contained_draft7
from tools._typeddict import portable_annotation

__all__ = ["Signature", "unwrap_partial"]

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


@dataclass(frozen=True, slots=True)
class Signature:
    """What a tool function takes, for the model and for the call.

    Attributes:
        model: The pydantic model that validates the arguments (aliases: parameter names).
        schema: The JSON schema of the arguments (draft 7, self-contained; do not mutate).
        wants_context: Whether a parameter takes the `ToolContext`.
    """

    model: type[BaseModel]
    schema: dict[str, Any]
    wants_context: bool
    _parameters: tuple[_Parameter, ...]
    _null_is_default: frozenset[str]  # a null argument for these means "the default"

    @classmethod
    def read(
        cls,
        function: Callable[..., Any],
        label: str,
        documented: Mapping[str, str],
        *,
        skip_self: bool = False,
    ) -> Signature:
        """Read ``function``'s signature; ``documented`` maps parameter names to descriptions.

        ``label`` names the tool in errors; ``skip_self`` leaves out the first parameter (a
        method's ``self``, bound later).

        Raises:
            TypeError: a parameter without annotation, ``*args``/``**kwargs``, or a type that
                has no JSON schema (the message names the parameter).
        """
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{label}: cannot read its signature ({error})") from error
        hints = _type_hints(function, label)
        parameters: list[_Parameter] = []
        fields: dict[str, Any] = {}
        for index, parameter in enumerate(signature.parameters.values()):
            if skip_self and index == 0:
                continue
            annotation = hints.get(parameter.name, parameter.annotation)
            name = f"p{index}"
            read, field = _read_parameter(parameter, annotation, name, label, documented)
            parameters.append(read)
            if field is not None:
                fields[name] = field
        model = _arguments_model(label, fields)
        null_is_default = frozenset(
            info.alias or name
            for name, info in model.model_fields.items()
            if not info.is_required() and not _accepts_none(fields[name][0])
        )
        return cls(
            model=model,
            schema=_parameters_schema(model, label),
            wants_context=any(p.field is None for p in parameters),
            _parameters=tuple(parameters),
            _null_is_default=null_is_default,
        )

    def bind(
        self, arguments: Mapping[str, Any], context: ToolContext[Any] | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        """Validate ``arguments`` into the call's args and kwargs (see `Tool.bind`).

        Raises:
            pydantic.ValidationError: the arguments do not fit the schema.
        """
        if not self._null_is_default.isdisjoint(arguments):
            arguments = {
                key: value
                for key, value in arguments.items()
                if value is not None or key not in self._null_is_default
            }
        validated = self.model.model_validate(arguments)
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


def _read_parameter(
    parameter: inspect.Parameter,
    annotation: Any,
    field: str,
    label: str,
    documented: Mapping[str, str],
) -> tuple[_Parameter, tuple[Any, FieldInfo] | None]:
    """How one parameter is filled, and its field of the arguments model (None: the context).

    ``field`` is the field's name: the parameter name is its alias, so any name works, even
    one pydantic reserves (``json``, ``schema``).

    Raises:
        TypeError: ``*args``/``**kwargs``, or no annotation.
    """
    _check_kind(parameter, label)
    if annotation is inspect.Parameter.empty:
        hint = " (for a method, pass the bound method: tool(obj.method))"
        raise TypeError(
            f"{label}: parameter {parameter.name!r} has no type annotation; the model "
            "needs a type to fill it" + (hint if parameter.name in ("self", "cls") else "")
        )
    positional_only = parameter.kind is parameter.POSITIONAL_ONLY
    if _is_context(annotation):
        return _Parameter(parameter.name, None, positional_only, True), None
    default = parameter.default
    if isinstance(default, FieldInfo):
        # `x: int = Field(3, description=...)`: pydantic's spelling of a described
        # default. The function itself would get the FieldInfo: always pass the value.
        annotation = typing.Annotated[annotation, default]
        default = inspect.Parameter.empty
    info = _field_info(annotation, parameter.name, default, documented.get(parameter.name))
    omit_when_unset = default is not inspect.Parameter.empty
    read = _Parameter(parameter.name, field, positional_only, omit_when_unset)
    return read, (portable_annotation(annotation), info)


def unwrap_partial(function: Callable[..., Any]) -> Callable[..., Any]:
    """The function behind any `functools.partial` layers."""
    while isinstance(function, functools.partial):
        function = function.func
    return function


def _check_kind(parameter: inspect.Parameter, label: str) -> None:
    if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
        star = "*" if parameter.kind is parameter.VAR_POSITIONAL else "**"
        raise TypeError(
            f"{label}: parameter '{star}{parameter.name}' is not allowed; a tool takes "
            "named, typed parameters only"
        )


def _type_hints(function: Callable[..., Any], label: str) -> dict[str, Any]:
    target = unwrap_partial(function)
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
