"""Make `typing.TypedDict` annotations usable by pydantic on Python 3.11.

Pydantic refuses ``typing.TypedDict`` before Python 3.12 (it needs the newer
``typing_extensions.TypedDict``). A TypedDict validates to a plain ``dict`` either way, so
swapping the class for an equivalent ``typing_extensions`` one changes nothing for the tool.
"""

from __future__ import annotations

import sys
import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typing_extensions

__all__ = ["portable_annotation"]

_converted: dict[type, Any] = {}


def portable_annotation(annotation: Any) -> Any:
    """Return ``annotation`` with every ``typing.TypedDict`` swapped for an equivalent one."""
    if sys.version_info >= (3, 12):
        return annotation
    return _convert(annotation, set())


def _convert(annotation: Any, in_progress: set[int]) -> Any:
    if isinstance(annotation, type) and typing.is_typeddict(annotation):
        return _convert_typeddict(annotation, in_progress)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is None or not args or origin is Literal:
        return annotation
    if origin is Annotated:
        inner = _convert(args[0], in_progress)
        if inner is args[0]:
            return annotation
        return Annotated[(inner, *annotation.__metadata__)]
    new_args = tuple(_convert(arg, in_progress) for arg in args)
    if all(new is old for new, old in zip(new_args, args, strict=True)):
        return annotation
    if origin in (Union, types.UnionType):
        return Union[new_args]  # noqa: UP007
    try:
        return origin[new_args[0] if len(new_args) == 1 else new_args]
    except TypeError:
        return annotation


def _convert_typeddict(cls: type, in_progress: set[int]) -> Any:
    if cls in _converted:
        return _converted[cls]
    if id(cls) in in_progress:
        return cls  # recursive: pydantic will reject it with a clear error
    in_progress.add(id(cls))
    hints = typing.get_type_hints(cls, include_extras=True)
    optional_keys: frozenset[str] = getattr(cls, "__optional_keys__", frozenset())
    fields: dict[str, Any] = {}
    for key, hint in hints.items():
        # An explicit Required/NotRequired wins over the class's key sets: with string
        # annotations, Python 3.11 cannot see those markers when it builds the sets.
        marker = get_origin(hint)
        optional = key in optional_keys
        if marker in (typing.Required, typing.NotRequired):
            optional = marker is typing.NotRequired
            hint = get_args(hint)[0]
        hint = _convert(hint, in_progress)
        if optional:
            fields[key] = typing_extensions.NotRequired[hint]
        else:
            fields[key] = typing_extensions.Required[hint]
    make_typeddict: Any = typing_extensions.TypedDict  # called with a computed name
    replacement = make_typeddict(cls.__name__, fields)
    replacement.__doc__ = cls.__doc__
    replacement.__module__ = cls.__module__
    replacement.__qualname__ = cls.__qualname__
    in_progress.discard(id(cls))
    _converted[cls] = replacement
    return replacement
