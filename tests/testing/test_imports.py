"""The pytest plugin costs nothing until a fixture is used (pytest loads it in every run)."""

import json
import subprocess
import sys

import pytest

HEAVY = ("openai", "mistral_common", "httpx", "httpx2", "pydantic", "soundfile", "numpy")
"""Top-level packages the plugin must not import by itself (about 1.5 s together)."""


def _newly_imported(first: str, then: str) -> list[str]:
    """The modules `import {then}` loads in a fresh interpreter after `import {first}`."""
    code = (
        "import json, sys\n"
        f"{first}\n"
        "seen = set(sys.modules)\n"
        f"import {then}\n"
        "print(json.dumps(sorted(set(sys.modules) - seen)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout))


def _heavy(modules: list[str]) -> list[str]:
    return [name for name in modules if name.split(".")[0] in HEAVY]


@pytest.mark.parametrize("module", ["agent.testing.pytest_plugin", "agent.testing"])
def test_it_adds_nothing_heavy_to_what_agent_imports(module: str) -> None:
    new = _newly_imported("import agent, pytest", module)
    assert _heavy(new) == []
    assert "agent.testing._server" not in new and "agent.testing._backend" not in new


def test_the_plugin_alone_imports_nothing_heavy() -> None:
    if _heavy(_newly_imported("", "agent")):
        pytest.skip("agent/__init__.py itself still imports the HTTP stack (issue 9 §4)")
    assert _heavy(_newly_imported("import pytest", "agent.testing.pytest_plugin")) == []


def test_a_name_is_imported_when_first_used() -> None:
    new = _newly_imported("import agent.testing", "agent.testing._server; agent.testing.Step")
    assert "agent.testing._server" in new
