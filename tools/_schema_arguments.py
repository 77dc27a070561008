"""`SchemaArguments`: a tool's arguments described by a JSON schema rather than a signature.

The schema given is what the arguments are validated against (with ``jsonschema``, one
validator kept per tool); the schema offered to the model is that schema made what vLLM's
structured output accepts, by the same rules as a signature's (`tools._schema`): references
inlined, no ``uniqueItems``, tuples as uniform arrays, unknown formats dropped.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools._content import location
from tools._context import ToolContext
from tools._printing import safe_repr
from tools._schema import UnsupportedSchemaError, self_contained_draft7

__all__ = ["InvalidArgumentsError", "SchemaArguments"]

_MAX_ERRORS_SHOWN = 4
_MAX_INSTANCE_REPR = 60


class InvalidArgumentsError(ValueError):
    """The arguments do not fit the tool's JSON schema; the message says where and why."""


@dataclass(frozen=True, slots=True)
class SchemaArguments:
    """The arguments of a `Tool.from_schema` tool: one dict, validated against its schema.

    Attributes:
        schema: The schema offered to the model (vLLM-safe, self-contained; do not mutate).
        original: The schema the arguments are validated against, as given.
    """

    schema: dict[str, Any]
    original: dict[str, Any]
    _validator: Any
    wants_context = False  # the function gets the arguments dict and nothing else

    @classmethod
    def read(cls, parameters: Mapping[str, Any], label: str) -> SchemaArguments:
        """Check ``parameters`` and prepare its validator and its offered form.

        Raises:
            ValueError: not a valid JSON schema, not an object schema, or one that cannot be
                offered to the model (the message names the keyword).
        """
        import jsonschema  # type: ignore[import-untyped]  # here: `import tools` stays light

        if not isinstance(parameters, Mapping):
            raise TypeError(
                f"{label}: parameters must be a JSON schema (a dict), not {safe_repr(parameters)}"
            )
        original = copy.deepcopy(dict(parameters))
        validator_class = jsonschema.validators.validator_for(
            original, default=jsonschema.Draft7Validator
        )
        try:
            validator_class.check_schema(original)
        except jsonschema.SchemaError as error:
            where = "/".join(str(part) for part in error.path) or "the top"
            raise ValueError(
                f"{label}: parameters is not a valid JSON schema: {error.message} (at {where})"
            ) from None
        if original.get("type") != "object":
            raise ValueError(
                f'{label}: parameters must describe an object ("type": "object"): the model '
                "sends the arguments as one JSON object"
            )
        try:
            offered = self_contained_draft7(original)
        except UnsupportedSchemaError as error:
            raise ValueError(
                f"{label}: its parameters cannot be offered to the model: {error}"
            ) from None
        validator = validator_class(original, format_checker=validator_class.FORMAT_CHECKER)
        return cls(schema=offered, original=original, _validator=validator)

    def bind(
        self, arguments: Mapping[str, Any], context: ToolContext[Any] | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        """Validate ``arguments`` (strict: JSON schema has no coercion) into ``([arguments], {})``.

        Raises:
            InvalidArgumentsError: the arguments do not fit the schema.
        """
        given = dict(arguments)
        errors = sorted(self._validator.iter_errors(given), key=lambda e: list(e.absolute_path))
        if errors:
            raise InvalidArgumentsError(_describe(errors))
        return [given], {}


def _describe(errors: list[Any]) -> str:
    """Which argument, what was wrong: like the summary of a signature tool's errors."""
    problems = []
    for error in errors[:_MAX_ERRORS_SHOWN]:
        where = location(error.absolute_path)
        message = safe_repr(error.instance)
        if len(message) > _MAX_INSTANCE_REPR:
            message = message[: _MAX_INSTANCE_REPR - 3] + "..."
        text = (
            error.message
            if len(error.message) <= 200
            else f"got {message}: {error.validator} failed"
        )
        problems.append(f"{where}: {text}" if where else text)
    if len(errors) > _MAX_ERRORS_SHOWN:
        problems.append(f"and {len(errors) - _MAX_ERRORS_SHOWN} more")
    return "; ".join(problems)
