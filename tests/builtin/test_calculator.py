import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tools import Toolbox
from tools.builtin import CalculatorError, calculate, evaluate

ROOT = Path(__file__).resolve().parents[2]


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


# Each of these would run for seconds to hours in C, holding the GIL (no timeout could fire),
# without a bound on the argument whose cost grows with its value.
HOSTILE = {
    "round(1, -10**9)": "round's digits is limited to whole numbers from -1000 to 1000",
    "round(10**1000, -10**7)": "round's digits is limited",
    "round(7, -1001)": "round's digits is limited",
    "round(2.5, 10**9)": "round's digits is limited",
    "factorial(10**9)": "factorial's argument is limited to whole numbers from 0 to 1000",
    "factorial(-1)": "factorial's argument is limited",
    "9 ** 9 ** 9": "exponents are limited to 10000",
    "9 ** 9 ** 4": "limited to 4096 bits",
    "2 ^ (10 ^ 5)": "exponents are limited to 10000",
    "10 ** 10 ** 8": "exponents are limited to 10000",
    "(10 ** 1000) ** 5": "limited to 4096 bits",
    "(2 ** 4000) * (2 ** 4000) * (2 ** 4000)": "limited to 4096 bits",
    "(10 ** 1200) * (10 ** 1200) // 7": "limited to 4096 bits",
    "-(2 ** 4096)": "limited to 4096 bits",
    "sqrt(2 ** 4000)": "too large for a floating-point number",
    "exp(10 ** 1000)": "too large for a floating-point number",
    "sin(2 ** 4000)": "too large for a floating-point number",
    "(2 ** 4000) / 3": "too large for a floating-point number",
    "1 << 10 ** 9": "not allowed",
    "comb(10 ** 9, 10 ** 6)": "Unknown function",
    "perm(10 ** 9, 10 ** 6)": "Unknown function",
    "pow(2, 10 ** 9)": "Unknown function",
    "int('9' * 100)": "Unknown function",
    "float('1' * 250)": "Unknown function",
    "1e400": "not a finite number",
}


def test_every_costly_argument_is_bounded_so_nothing_freezes_the_process() -> None:
    # In a subprocess with a timeout: a missing bound must fail this test, not hang the suite.
    script = textwrap.dedent(
        """
        import json, sys
        from tools.builtin import CalculatorError, evaluate

        out = {}
        for expression in json.loads(sys.argv[1]):
            try:
                out[expression] = f"value {evaluate(expression)!r}"[:80]
            except CalculatorError as error:
                out[expression] = str(error)
        print(json.dumps(out))
        """
    )
    finished = subprocess.run(
        [sys.executable, "-c", script, json.dumps(list(HOSTILE))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    messages = json.loads(finished.stdout)
    for expression, expected in HOSTILE.items():
        assert expected in messages[expression], (expression, messages[expression])


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("round(1234, -2)", 1200),
        ("round(1, -1000)", 0),
        ("round(2.567, 4 / 2)", 2.57),  # digits given as an integral float
        ("factorial(10 / 2)", 120),
        ("factorial(0)", 1),
        ("2 ** 4095", 2**4095),
        ("2 ** -10000", 0),
        ("(-2) ** 3", -8),
    ],
)
def test_values_at_and_inside_the_limits(expression: str, expected: float) -> None:
    assert evaluate(expression) == expected


async def test_a_refused_expression_is_a_tool_error_naming_the_limit() -> None:
    result = await Toolbox([calculate]).call("calculate", {"expression": "round(1, -10**7)"})
    assert not result.ok and result.error_kind == "tool_error"
    assert result.content == "round's digits is limited to whole numbers from -1000 to 1000."
