"""Every code block of the README runs as written (issue 8, 2.4).

- ```python blocks run in README order in one namespace (a later block may use what an earlier
  one defined), each in a fresh working folder holding the recordings the blocks name, with
  `VOXAGENT_BASE_URL` pointing at a `ScriptedServer` that answers every request. A block with
  top-level `await` runs on its own event loop; a plain block runs with no loop running (so
  the sync wrappers work there, as in a script). A block that defines `test_*` functions is a
  pytest example: each is called with a fresh `scripted_server`.
- ```sh blocks are command lines: every `voxagent ...` line runs against the same server. These
  machines have no sound card and no GPU: `voxagent run` listens to a recording instead of the
  microphone (`--replay`), `serve` must stop at once with the README's exit code for no GPU
  (6), and `devices` may find none (5). `make ...` lines are the README's two commands, which
  CI runs itself (`.ci/run` is `make test`; `make run` is `voxagent run --serve`, checked by
  `tests/cli`).
- ```text blocks are not code (a folder tree, sample output).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from agent.testing import ScriptedServer, Step

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLE_AUDIO = ROOT / "examples" / "audio"
BLOCK = re.compile(r"^```([a-z]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
NO_GPU = 6
NO_SOUND_CARD = 5
"""`voxagent serve` (and `run --serve`) on a machine without an NVIDIA GPU: the README's code."""


def blocks(kind: str) -> list[str]:
    return [
        code for info, code in BLOCK.findall(README.read_text(encoding="utf-8")) if info == kind
    ]


def test_every_block_says_what_it_is() -> None:
    kinds = {info for info, _ in BLOCK.findall(README.read_text(encoding="utf-8"))}
    assert kinds <= {"python", "sh", "text"}, kinds


@pytest.fixture
def answering_server():
    """A scripted vLLM that answers every chat with a short reply, every transcription too."""
    server = ScriptedServer(responder=lambda request: Step(content="OK."), transcript="hello")
    with server:
        yield server


@pytest.fixture
def readme_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answering_server) -> Path:
    """A working folder with the recordings the README names, and the server in the env."""
    for name in ("command.wav", "session.wav", "question.wav", "talk.wav", "a.wav", "b.wav",
                 "talk1.wav", "talk2.wav"):  # fmt: skip
        shutil.copy(EXAMPLE_AUDIO / "what_time.wav", tmp_path / name)
    for name in ("obama.mp3", "bcn_weather.mp3"):
        _to_mp3(EXAMPLE_AUDIO / "timer.wav", tmp_path / name)
    # `npx -y @modelcontextprotocol/...` in the README finds the servers scripts/npm-deps
    # installed, offline: tests reach no address but 127.0.0.1.
    npm = ROOT / ".cache" / "npm" / "node_modules"
    if npm.is_dir():
        (tmp_path / "node_modules").symlink_to(npm)
    monkeypatch.setenv("npm_config_offline", "true")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("VOXAGENT_BASE_URL", answering_server.base_url)
    return tmp_path


def _to_mp3(source: Path, target: Path) -> None:
    import soundfile as sf

    data, rate = sf.read(source)
    sf.write(target, data, rate, format="MP3")


def _has_top_level_await(code: str) -> bool:
    try:
        compile(code, str(README), "exec", dont_inherit=True)
    except SyntaxError:
        return True  # `await` outside a function is a syntax error for plain `exec`
    return False


def _run_block(code: str, namespace: dict[str, Any]) -> None:
    """Run one block off this thread's loop (pytest-asyncio may run one here)."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            if _has_top_level_await(code):
                flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
                compiled = compile(code, str(README), "exec", flags=flags, dont_inherit=True)
                result = eval(compiled, namespace)
                if inspect.iscoroutine(result):
                    asyncio.run(result)
            else:
                exec(compile(code, str(README), "exec", dont_inherit=True), namespace)
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "a README block ran for more than 120 s"
    if failure:
        raise failure[0]


def test_the_python_blocks_run_in_order(readme_folder: Path) -> None:
    namespace: dict[str, Any] = {"__name__": "readme"}
    found = blocks("python")
    assert len(found) >= 4
    for number, code in enumerate(found, 1):
        try:
            _run_block(code, namespace)
        except Exception as error:
            raise AssertionError(f"README python block {number} failed:\n{code}") from error
        for name, value in list(namespace.items()):
            if name.startswith("test_") and callable(value):  # a pytest example: run it
                with ScriptedServer() as server:
                    call = f"import asyncio, inspect\n__r = {name}(__server)\n"
                    call += "if inspect.iscoroutine(__r):\n    asyncio.run(__r)\n"
                    _run_block(call, {**namespace, "__server": server})
                    server.verify()
                del namespace[name]


def _command_lines() -> list[str]:
    lines: list[str] = []
    for code in blocks("sh"):
        for line in code.splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                lines.append(command)
    return lines


def test_every_command_line_runs(readme_folder: Path) -> None:
    voxagent = Path(sys.executable).with_name("voxagent")
    prefix = [str(voxagent)] if voxagent.exists() else [sys.executable, "-m", "agent.cli"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ran = 0
    for line in _command_lines():
        words = shlex.split(line)
        if words[0] == "make":
            assert words[1] in ("run", "test"), line  # the README's two commands, run by CI
            continue
        assert words[0] == "voxagent", f"a README command that is not voxagent: {line}"
        if words[1] == "run" and "--replay" not in words:
            words += ["--replay", "question.wav"]  # no sound card here: a recording for the mic
        done = subprocess.run(
            [*prefix, *words[1:]], capture_output=True, text=True, timeout=120, env=env,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        # `run --serve` finds the (scripted) server already running and uses it.
        wanted = {NO_GPU} if words[1] == "serve" else {0}
        if words[1] == "devices":
            wanted.add(NO_SOUND_CARD)  # it says so in one line when no device exists
        assert done.returncode in wanted, f"{line}: rc {done.returncode}\n{done.stderr[-800:]}"
        ran += 1
    assert ran >= 5
