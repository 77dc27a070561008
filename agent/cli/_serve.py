"""`voxagent serve`, and the server start that `voxagent run --serve` shares with it."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.markup import escape

from agent.cli._exit import CliError, ExitCode
from agent.cli._vllm import (
    DEFAULT_PORT,
    ServeOptions,
    VllmNotFoundError,
    VllmProcess,
    VllmStartError,
    build_command,
    find_gpus,
    find_vllm,
    server_healthy,
)
from tools._threads import run_blocking

__all__ = ["prepare_start", "serve_command", "serve_options", "start_server", "stop_server"]

INSTALL_HINT = "pip install 'voxtral-agent[serve]' (Linux with an NVIDIA GPU)"


def serve_options(args: argparse.Namespace, base_url: str | None = None) -> ServeOptions:
    """The server to start, from `serve`'s options (or `run --serve`'s and its --base-url)."""
    port = args.port
    if port is None and base_url:
        port = urlsplit(base_url).port
    return ServeOptions(
        model=args.serve_model,
        served_model_name=args.served_model_name,
        host=args.host,
        port=port or DEFAULT_PORT,
        max_model_len=args.max_model_len,
        gpu_memory_utilization=args.gpu_memory_utilization,
        extra_args=tuple(vllm_extra_args(args)),
    )


def vllm_extra_args(args: argparse.Namespace) -> list[str]:
    """The extra vLLM flags given after `--`; `CliError` (usage) for stray arguments."""
    extra = list(getattr(args, "vllm_args", None) or [])
    if not extra:
        return []
    if extra[0] != "--":
        raise CliError(
            f"unexpected argument {extra[0]!r}: extra vLLM flags go after `--` "
            "(voxagent serve -- --enforce-eager)",
            ExitCode.USAGE,
        )
    return extra[1:]


async def serve_command(args: argparse.Namespace) -> ExitCode:
    """Start vLLM, wait until it is healthy, keep it running until Ctrl-C or until it exits."""
    options = serve_options(args)
    if args.print_only:
        try:
            launcher = find_vllm(args.vllm)
        except VllmNotFoundError:
            launcher = ["vllm"]
        print(shlex.join(build_command(options, launcher)))
        return ExitCode.OK
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if await server_healthy(options.base_url):
        raise CliError(
            f"a server already answers at {options.base_url}: use it "
            f"(voxagent run --base-url {options.base_url}) or pick another --port",
            ExitCode.FAILURE,
        )
    launcher = await prepare_start(args, options, console)
    process = await start_server(args, options, launcher, console)
    try:
        console.print(
            f"[green]vLLM is ready[/] at [bold]{options.base_url}[/] "
            f"(model [bold]{escape(options.served_model_name)}[/]); "
            f"log: {escape(str(process.log_path))}. Ctrl-C stops it."
        )
        status = await process.wait_exit()
        raise CliError(
            f"vLLM exited with status {status}; see its log: {process.log_path}", ExitCode.FAILURE
        )
    finally:
        await stop_server(process, console)


async def prepare_start(
    args: argparse.Namespace, options: ServeOptions, console: Console
) -> list[str]:
    """The checks that take no time, before anything starts: a GPU (unless --no-gpu-check),
    vLLM, a free port. Returns the command prefix that runs vLLM.

    Raises:
        CliError: no GPU or no vLLM (`NOT_INSTALLED`), or the port is taken.
    """
    if not args.no_gpu_check:  # first: without a GPU, installing vLLM is not the fix
        await _check_gpu(console, from_run=args.command == "run")
    try:
        launcher = find_vllm(args.vllm)
    except VllmNotFoundError:
        raise CliError(
            f"vLLM is not installed here: {INSTALL_HINT}; or give its command with --vllm "
            "(or $VOXAGENT_VLLM); or use a server elsewhere with --base-url",
            ExitCode.NOT_INSTALLED,
        ) from None
    if await run_blocking(lambda: _port_taken(options.host, options.port)):
        raise CliError(
            f"port {options.port} on {options.host} is taken by another program; "
            "pick another with --port",
            ExitCode.FAILURE,
        )
    return launcher


async def start_server(
    args: argparse.Namespace, options: ServeOptions, launcher: list[str], console: Console
) -> VllmProcess:
    """Start vLLM with `launcher` (from `prepare_start`) and wait until it is healthy.

    Raises:
        CliError: vLLM could not start, or did not come up.
    """
    log_path = Path(args.server_log) if args.server_log else _default_log(options.port)
    process = VllmProcess(build_command(options, launcher), log_path, options.base_url)
    console.print(f"[dim]$ {escape(shlex.join(process.command))}[/]")
    try:
        process.start()
    except OSError as error:
        raise CliError(
            f"cannot start vLLM ({error}); check --vllm (or $VOXAGENT_VLLM) and --server-log",
            ExitCode.NOT_INSTALLED,
        ) from None
    try:
        await _wait_with_progress(process, args.start_timeout, console)
    except VllmStartError as error:
        await process.stop(grace=5.0)
        for line in error.log_tail[-10:]:
            console.print(f"[dim]  {escape(line)}[/]")
        raise CliError(f"{error}; full log: {log_path}", ExitCode.FAILURE) from None
    except BaseException:
        await stop_server(process, console)
        raise
    return process


async def stop_server(process: VllmProcess, console: Console) -> None:
    """Stop vLLM if it runs, saying so (it may take a few seconds to free the GPU); a second
    Ctrl-C meanwhile kills it at once. Its process group is killed in any case."""
    if process.running:
        console.print("[dim]stopping vLLM...[/]")
    await process.stop()


async def _check_gpu(console: Console, *, from_run: bool) -> None:
    gpus = await run_blocking(find_gpus)  # nvidia-smi may take seconds
    if not gpus:
        elsewhere = (
            "use a server on another machine with --base-url URL (instead of --serve)"
            if from_run
            else "serve from a machine with one, and point voxagent at it with --base-url URL"
        )
        raise CliError(
            "no NVIDIA GPU found (nvidia-smi lists none): vLLM needs one to serve Voxtral; "
            f"{elsewhere}, or pass --no-gpu-check for a CPU build of vLLM",
            ExitCode.NOT_INSTALLED,
        )
    gpu = gpus[0]
    memory = f", {gpu.memory_mib / 1024:.0f} GiB" if gpu.memory_mib else ""
    if gpu.full_fp8:
        mode = "full FP8"
    else:
        mode = "FP8 weights with 16-bit activations (full FP8 needs compute capability >= 8.9)"
    console.print(
        f"GPU: {escape(gpu.name)} (compute capability {gpu.compute_capability}{memory}): {mode}"
    )


async def _wait_with_progress(process: VllmProcess, timeout: float, console: Console) -> None:
    if console.is_terminal:
        with console.status("starting vLLM...") as status:

            def show(waited: float, line: str) -> None:
                status.update(
                    f"starting vLLM ({_minutes(waited)}; the first start downloads and "
                    f"compiles)  [dim]{escape(line[-100:])}[/]"
                )

            await process.wait_ready(timeout, show)
        return
    last_report = time.monotonic()

    def report(waited: float, line: str) -> None:
        nonlocal last_report
        if time.monotonic() - last_report >= 10:
            last_report = time.monotonic()
            console.print(f"waiting for vLLM ({_minutes(waited)}): {escape(line[-120:])}")

    console.print(f"starting vLLM; log: {escape(str(process.log_path))}")
    await process.wait_ready(timeout, report)


def _minutes(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def _default_log(port: int) -> Path:
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "voxagent" / f"vllm-{port}.log"


def _port_taken(host: str, port: int) -> bool:
    connect_to = "127.0.0.1" if host in ("0.0.0.0", "") else host
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.settimeout(0.5)
        try:
            return probe.connect_ex((connect_to, port)) == 0
        except OSError:
            return False
