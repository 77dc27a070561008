"""A calculator that evaluates arithmetic by walking Python's syntax tree (never `eval`)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from tools import ToolError, tool

__all__ = ["CalculatorError", "calculate", "evaluate"]

Number = int | float

MAX_EXPRESSION_CHARS = 300
MAX_RESULT_BITS = 4096
"""Integers above this size (about 1233 digits) are refused, as operands and results alike
(``9**9**9`` would take minutes), so no operation ever works on a larger number."""
MAX_EXPONENT = 10_000
MAX_FACTORIAL = 1000
MAX_ROUND_DIGITS = 1000
"""``round(x, n)`` on an int builds ``10**-n`` in C, holding the GIL: ``round(1, -10**9)``
would freeze the whole process for hours, so ``n`` is bounded like every other argument
whose cost grows with its value."""

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitXor: operator.pow,  # people (and models) write 2^10 for a power
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Number]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "floor": math.floor,
    "ceil": math.ceil,
    "factorial": math.factorial,
    "radians": math.radians,
    "degrees": math.degrees,
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}
_SPOKEN = {"×": "*", "÷": "/", "−": "-", "·": "*"}


class CalculatorError(ValueError):
    """The expression is not arithmetic this calculator accepts, or has no finite value."""


def evaluate(expression: str) -> Number:
    """The value of an arithmetic expression such as ``"(2 + 3) * 4 / 7"`` or ``"sqrt(2)^3"``.

    Accepts numbers, ``+ - * / // % **`` (``^`` means power), parentheses, the constants
    ``pi e tau`` and the functions in ``_FUNCTIONS``; nothing else (no names, attributes,
    strings or comprehensions). Floats that hold an integer come back as ``int``.

    Every argument whose cost grows with its value is bounded, so no expression runs long:
    integers (operands and results) to `MAX_RESULT_BITS`, exponents to `MAX_EXPONENT`,
    ``factorial`` to `MAX_FACTORIAL`, ``round``'s digits to `MAX_ROUND_DIGITS`; the
    expression to `MAX_EXPRESSION_CHARS` (so literals are short). The error says the limit.

    Raises:
        CalculatorError: the expression is empty, too long, not allowed, or has no finite value.
    """
    text = expression.strip()
    for spoken, symbol in _SPOKEN.items():
        text = text.replace(spoken, symbol)
    if not text:
        raise CalculatorError("The expression is empty; give one such as '12 * (3 + 4)'.")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"The expression is longer than {MAX_EXPRESSION_CHARS} characters.")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise CalculatorError(f"'{expression}' is not an arithmetic expression.") from None
    try:
        value = _value(tree.body)
    except ZeroDivisionError:
        raise CalculatorError("Division by zero.") from None
    except OverflowError:
        raise CalculatorError("The result is too large for a floating-point number.") from None
    except (ValueError, TypeError) as error:
        if isinstance(error, CalculatorError):
            raise
        raise CalculatorError(f"Math error: {error}.") from None
    return _tidy(value)


def _value(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalculatorError(f"Only numbers are allowed, not {node.value!r}.")
        return _checked(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow | ast.BitXor):
            _check_power(left, right)
        result: Number = _BINARY[type(node.op)](left, right)
        return _checked(result)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_value(node.operand)))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise CalculatorError(f"Unknown name '{node.id}'; constants are {', '.join(_CONSTANTS)}.")
    if isinstance(node, ast.Call):
        return _call(node)
    raise CalculatorError(f"'{ast.unparse(node)}' is not allowed in arithmetic.")


def _call(node: ast.Call) -> Number:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
        raise CalculatorError(
            f"Unknown function '{ast.unparse(node.func)}'; known: {', '.join(_FUNCTIONS)}."
        )
    if node.keywords:
        raise CalculatorError("Functions take positional arguments only.")
    name = node.func.id
    arguments = [_value(argument) for argument in node.args]
    if name == "factorial" and len(arguments) == 1:
        arguments[0] = _whole(arguments[0], "factorial's argument", 0, MAX_FACTORIAL)
    elif name == "round" and len(arguments) == 2:
        digits = _whole(arguments[1], "round's digits", -MAX_ROUND_DIGITS, MAX_ROUND_DIGITS)
        arguments[1] = digits
    return _checked(_FUNCTIONS[name](*arguments))


def _whole(value: Number, what: str, low: int, high: int) -> int:
    """``value`` as an int in ``low..high`` (an integral float is fine), else a clear error."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not low <= value <= high:
        raise CalculatorError(f"{what} is limited to whole numbers from {low} to {high}.")
    return value


def _check_power(base: Number, exponent: Number) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise CalculatorError(
            f"The exponent is too large: exponents are limited to {MAX_EXPONENT} either way."
        )
    exact = isinstance(base, int) and isinstance(exponent, int)
    if exact and abs(base) > 1 and exponent * math.log2(abs(base)) > MAX_RESULT_BITS:
        raise _too_large()


def _checked(value: Number) -> Number:
    if isinstance(value, complex):
        raise CalculatorError("The result is not a real number.")
    if isinstance(value, float) and not math.isfinite(value):
        raise CalculatorError("The result is not a finite number.")
    if isinstance(value, int) and value.bit_length() > MAX_RESULT_BITS:
        raise _too_large()
    return value


def _too_large() -> CalculatorError:
    return CalculatorError(
        f"The result is too large: numbers are limited to {MAX_RESULT_BITS} bits "
        f"(about {int(MAX_RESULT_BITS * math.log10(2))} digits)."
    )


def _tidy(value: Number) -> Number:
    if isinstance(value, float):
        value = float(f"{value:.12g}")  # 0.1 + 0.2 -> 0.3
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


@tool
def calculate(expression: str) -> Number:
    """Evaluate an arithmetic expression exactly; use it rather than doing sums yourself.

    Args:
        expression: Arithmetic such as "(12.5 + 7) * 3", "2 ** 10", "sqrt(2)" or "15 % 4";
            functions: sqrt, exp, log, log10, log2, sin, cos, tan, asin, acos, atan, floor,
            ceil, round, abs, min, max, factorial, radians, degrees; constants: pi, e, tau.
    """
    try:
        return evaluate(expression)
    except CalculatorError as error:
        raise ToolError(str(error)) from None
