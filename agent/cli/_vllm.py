"""Start vLLM for Voxtral with the flags it needs, wait until it is healthy, stop it cleanly.

The flags come from the wire facts of Voxtral on vLLM: only the Mistral formats load it, tool
calls need both the auto tool choice and the mistral parser, `--max-model-len` must be given
(the model is trained for 32k), and the audio limit per prompt is `agent.clips.MAX_AUDIO_ITEMS`.

Stopping is the part that must not fail: `VllmProcess.stop` cannot be cancelled half-way,
a second Ctrl-C while it runs kills the whole process group at once, and it always ends
with the group killed, so no vLLM worker outlives the command that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PORT",
    "DEFAULT_SERVED_NAME",
    "GpuInfo",
    "ServeOptions",
    "VllmNotFoundError",
    "VllmProcess",
    "VllmStartError",
    "build_command",
    "find_gpus",
    "find_vllm",
    "server_healthy",
]

DEFAULT_MODEL = "RedHatAI/Voxtral-Mini-3B-2507-FP8-dynamic"
DEFAULT_SERVED_NAME = "voxtral"
DEFAULT_PORT = 8000
"""The port `voxagent serve` binds; `agent.client.DEFAULT_BASE_URL` points at it."""
DEFAULT_MAX_MODEL_LEN = 32768
_T = TypeVar("_T")
VLLM_ENV = "VOXAGENT_VLLM"
"""Environment variable naming the command that runs vLLM's CLI (for example a venv's `vllm`)."""


class VllmNotFoundError(Exception):
    """No way to run vLLM was found."""


class VllmStartError(Exception):
    """vLLM exited, or did not become healthy in time; `log_tail` holds its last log lines."""

    def __init__(self, message: str, log_tail: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.log_tail = list(log_tail)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What `voxagent serve` starts; `extra_args` go to vLLM unchanged, after ours."""

    model: str = DEFAULT_MODEL
    served_model_name: str = DEFAULT_SERVED_NAME
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_model_len: int = DEFAULT_MAX_MODEL_LEN
    gpu_memory_utilization: float | None = None
    max_audio_items: int | None = None
    """None: Voxtral's limit, `agent.clips.MAX_AUDIO_ITEMS`."""
    extra_args: tuple[str, ...] = field(default_factory=tuple)

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL a client on this machine uses."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/v1"


@dataclass(frozen=True, slots=True)
class GpuInfo:
    """One NVIDIA GPU as `nvidia-smi` reports it."""

    name: str
    compute_capability: float | None
    memory_mib: int | None

    @property
    def full_fp8(self) -> bool:
        """True when the GPU runs FP8 weights AND activations (compute capability >= 8.9)."""
        return self.compute_capability is not None and self.compute_capability >= 8.9


def find_vllm(explicit: str | None = None) -> list[str]:
    """The command prefix that runs vLLM's CLI (`... serve MODEL` follows it).

    In order: `explicit` (a shell-quoted command), `$VOXAGENT_VLLM`, a `vllm` executable on
    PATH, then `python -m vllm.entrypoints.cli.main` when this interpreter can import vllm
    (its console script may be missing, for example in a venv that is not activated).
    """
    for command in (explicit, os.environ.get(VLLM_ENV)):
        if command:
            return shlex.split(command)
    executable = shutil.which("vllm")
    if executable:
        return [executable]
    if importlib.util.find_spec("vllm") is not None:
        return [sys.executable, "-m", "vllm.entrypoints.cli.main"]
    raise VllmNotFoundError("vLLM is not installed")


def build_command(options: ServeOptions, launcher: Sequence[str] = ("vllm",)) -> list[str]:
    """The full vLLM command line for `options`."""
    command = [
        *launcher,
        "serve",
        options.model,
        "--tokenizer-mode",
        "mistral",
        "--config-format",
        "mistral",
        "--load-format",
        "mistral",
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "mistral",
        "--max-model-len",
        str(options.max_model_len),
        "--limit-mm-per-prompt",
        json.dumps({"audio": options.max_audio_items or _max_audio_items()}),
        "--served-model-name",
        options.served_model_name,
        "--host",
        options.host,
        "--port",
        str(options.port),
    ]
    if options.gpu_memory_utilization is not None:
        command += ["--gpu-memory-utilization", str(options.gpu_memory_utilization)]
    return command + list(options.extra_args)


def _max_audio_items() -> int:
    from agent.limits import MAX_AUDIO_ITEMS

    return MAX_AUDIO_ITEMS


def find_gpus() -> list[GpuInfo]:
    """The NVIDIA GPUs on this machine (empty without `nvidia-smi` or a working driver)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        listing = subprocess.run(
            [smi, "--query-gpu=name,compute_cap,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [_parse_gpu_line(line) for line in listing.splitlines() if line.strip()]


def _parse_gpu_line(line: str) -> GpuInfo:
    name, _, rest = line.partition(",")
    capability_text, _, memory_text = rest.partition(",")
    capability = _number(capability_text)
    memory = _number(memory_text)
    return GpuInfo(
        name=name.strip(),
        compute_capability=capability,
        memory_mib=None if memory is None else int(memory),
    )


def _number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


ProgressCallback = Callable[[float, str], None]
"""Called about once a second while waiting: seconds waited, the newest log line."""


class VllmProcess:
    """One vLLM server child process, its output going to `log_path`.

    The child gets its own process group, so a Ctrl-C in the terminal reaches only us and
    `stop` can end vLLM and all its workers together.
    """

    def __init__(self, command: Sequence[str], log_path: Path, base_url: str) -> None:
        self.command = list(command)
        self.log_path = log_path
        self.base_url = base_url.rstrip("/")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """True while the child has not exited."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start vLLM (returns at once; `wait_ready` waits for health)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "VLLM_NO_USAGE_STATS": os.environ.get("VLLM_NO_USAGE_STATS", "1")}
        with self.log_path.open("ab") as log:
            log.write(f"\n$ {shlex.join(self.command)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )

    async def wait_ready(self, timeout: float, progress: ProgressCallback | None = None) -> None:
        """Wait until `GET /health` answers 200; `VllmStartError` if vLLM exits or times out
        (the message then says why the last health check failed)."""
        import httpx2

        health_url = _health_url(self.base_url)
        started = time.monotonic()
        async with httpx2.AsyncClient(timeout=2.0) as client:
            while True:
                if not self.running:
                    code = self._process.returncode if self._process else None
                    raise VllmStartError(f"vLLM exited with status {code}", self.log_tail())
                problem = await _health_problem(client, health_url)
                if problem is None:
                    return
                waited = time.monotonic() - started
                if waited > timeout:
                    raise VllmStartError(
                        f"vLLM was not healthy after {timeout:.0f} s ({health_url}: {problem})",
                        self.log_tail(),
                    )
                if progress is not None:
                    tail = await _run_blocking(lambda: self.log_tail(1))
                    progress(waited, tail[0] if tail else "")
                await asyncio.sleep(1.0)

    async def wait_exit(self) -> int:
        """Wait until the child exits by itself; its exit status."""
        while self.running:
            await asyncio.sleep(0.5)
        assert self._process is not None
        return self._process.returncode

    async def stop(self, grace: float = 20.0) -> None:
        """End vLLM and its workers: SIGINT, then SIGTERM, then SIGKILL after `grace` s each,
        and SIGKILL for whatever of its process group is left.

        It runs to the end even if the caller is cancelled (the cancellation is raised once
        vLLM is gone), and a Ctrl-C meanwhile sends SIGKILL to the group at once.
        """
        if self._process is None:
            return
        stopping = asyncio.ensure_future(self._stop_in_steps(grace))
        cancelled = False
        with self._ctrl_c_kills():
            while not stopping.done():
                try:
                    await asyncio.shield(stopping)
                except asyncio.CancelledError:
                    cancelled = True  # finish first: a cancelled stop would leave vLLM running
                    self.kill()
        stopping.result()
        if cancelled:
            raise asyncio.CancelledError

    def kill(self) -> None:
        """SIGKILL vLLM's whole process group now."""
        if self._process is not None:
            _signal_group(self._process.pid, signal.SIGKILL)

    async def _stop_in_steps(self, grace: float) -> None:
        assert self._process is not None
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if not self.running or not _signal_group(self._process.pid, sig):
                break
            deadline = time.monotonic() + grace
            while self.running and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        _signal_group(self._process.pid, signal.SIGKILL)  # workers the leader left behind
        await _run_blocking(self._process.wait)

    @contextlib.contextmanager
    def _ctrl_c_kills(self) -> Iterator[None]:
        """While stopping: SIGINT (a second Ctrl-C) kills the group instead of interrupting
        the stop half-way (asyncio's own handler would raise KeyboardInterrupt).

        A plain `signal.signal` handler, not the loop's: the Ctrl-C that started this stop
        may still sit in the loop's signal pipe, and the loop would hand it to a handler of
        its own installed now.
        """
        previous = signal.getsignal(signal.SIGINT)
        try:
            signal.signal(signal.SIGINT, lambda signum, frame: self.kill())
        except ValueError:  # not the main thread: nothing to take over
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last non-empty lines of the log file."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 16_384))
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        kept: deque[str] = deque(maxlen=lines)
        for line in text.splitlines():
            if line.strip():
                kept.append(line.rstrip())
        return list(kept)


async def server_healthy(base_url: str) -> bool:
    """Whether `GET /health` next to the API root `base_url` answers 200."""
    import httpx2

    async with httpx2.AsyncClient(timeout=2.0) as client:
        return await _health_problem(client, _health_url(base_url)) is None


def _health_url(base_url: str) -> str:
    """vLLM's `/health` sits at the server's root, beside the `/v1` API root."""
    return base_url.rstrip("/").removesuffix("/v1") + "/health"


async def _health_problem(client: httpx2.AsyncClient, url: str) -> str | None:
    """None if `url` answers 200; else why not (the root cause of a connection failure)."""
    import httpx2

    from agent.cli._exit import root_cause

    try:
        response = await client.get(url)
    except httpx2.HTTPError as error:
        return root_cause(error) or str(error) or type(error).__name__
    return None if response.status_code == 200 else f"HTTP {response.status_code}"


async def _run_blocking(job: Callable[[], _T]) -> _T:
    # Imported on use: `tools` loads pydantic, which `voxagent --help` need not pay for.
    from tools._threads import run_blocking

    return await run_blocking(job)


def _signal_group(pid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the process group `pid` leads; False if none of it is left."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True
