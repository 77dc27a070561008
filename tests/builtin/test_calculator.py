import math

import pytest

from tools import Toolbox
from tools.builtin import CalculatorError, calculate, evaluate


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 10", 1024),
        ("2 ^ 10", 1024),
        ("6 × 7", 42),
        ("84 ÷ 2", 42),
        ("0.1 + 0.2", 0.3),
        ("sqrt(16)", 4),
        ("round(2.567, 2)", 2.57),
        ("max(3, 9, 4)", 9),
        ("factorial(5)", 120),
        ("-(-3)", 3),
        ("1e3 / 8", 125),
    ],
)
def test_evaluates_arithmetic(expression: str, expected: float) -> None:
    assert evaluate(expression) == expected


def test_integral_results_are_ints_and_constants_work() -> None:
    assert isinstance(evaluate("10 / 2"), int)
    assert evaluate("2 * pi") == pytest.approx(math.tau)
    assert evaluate("log(e)") == 1


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty"),
        ("1 / 0", "Division by zero"),
        ("__import__('os').system('true')", "Unknown function"),
        ("open", "Unknown name"),
        ("(1).__class__", "not allowed"),
        ("'a' * 3", "Only numbers"),
        ("True + 1", "Only numbers"),
        ("[x for x in range(9)]", "not allowed"),
        ("9 ** 9 ** 9", "too large"),
        ("10 ** 100000", "too large"),
        ("factorial(100000)", "limited"),
        ("sqrt(-1)", "Math error"),
        ("2 +", "not an arithmetic expression"),
        ("1" * 400, "longer than"),
        ("sqrt(x=4)", "positional"),
    ],
)
def test_refuses_what_is_not_safe_arithmetic(expression: str, message: str) -> None:
    with pytest.raises(CalculatorError, match=message):
        evaluate(expression)


async def test_tool_returns_value_or_a_message_for_the_model() -> None:
    box = Toolbox([calculate])
    good = await box.call("calculate", {"expression": "12 * (3 + 4)"})
    assert good.ok and good.value == 84
    bad = await box.call("calculate", '{"expression": "1/0"}')
    assert not bad.ok and bad.error_kind == "tool_error" and bad.content == "Division by zero."
