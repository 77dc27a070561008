"""A virtual microphone for tests: PulseAudio with no sound card, fed from WAV files.

`VirtualMicrophone` starts a private PulseAudio server in a temporary folder with a null sink
`vspk` and a source `vmic` remapped from its monitor (the default source), so whatever is played
to `vspk` (`play`) is what a program recording from the default input hears. Every step has a
timeout; the server and its helper processes are stopped on exit.

PortAudio (sounddevice) enumerates devices when it is imported, so the program under test must
see `PULSE_SERVER` before that: run it as a subprocess with `env=mic.env`, or set
`os.environ.update(mic.env)` before the first `import sounddevice`.

    from tests.virtual_mic import virtual_mic   # the pytest fixture (skips if unavailable)

    def test_x(virtual_mic):
        proc = subprocess.Popen([...], env=virtual_mic.env)
        virtual_mic.play("command.wav")
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

__all__ = ["VirtualMicUnavailable", "VirtualMicrophone", "virtual_mic"]

_TOOLS = ("pulseaudio", "pactl", "pacat", "paplay")

_CONFIG = """\
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name=vspk rate={rate} channels=1 format=s16le
load-module module-remap-source source_name=vmic master=vspk.monitor
set-default-sink vspk
set-default-source vmic
"""


class VirtualMicUnavailable(RuntimeError):
    """PulseAudio is missing or would not start; the message says why."""


class VirtualMicrophone:
    """A private PulseAudio server whose default source hears what `play` plays.

    Args:
        rate: the sample rate of the virtual devices.
        timeout: seconds allowed for each step (start, commands, stop).
    """

    def __init__(self, *, rate: int = 16_000, timeout: float = 10.0) -> None:
        self.rate = rate
        self.timeout = timeout
        self._folder: Path | None = None
        self._server: subprocess.Popen[bytes] | None = None
        self._keep_busy: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}
        """The environment (a copy of os.environ plus PULSE_*) for programs under test."""

    @property
    def socket(self) -> Path:
        """The server's unix socket."""
        assert self._folder is not None, "not started"
        return self._folder / "native"

    def start(self) -> VirtualMicrophone:
        """Start the server and wait until it answers; raises `VirtualMicUnavailable`."""
        missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
        if missing:
            raise VirtualMicUnavailable(
                f"the virtual microphone needs {', '.join(missing)} (apt-get install pulseaudio "
                "pulseaudio-utils libasound2-plugins libportaudio2)"
            )
        self._folder = Path(tempfile.mkdtemp(prefix="vmic-"))
        config = self._folder / "vmic.pa"
        config.write_text(_CONFIG.format(socket=self.socket, rate=self.rate))
        self.env = {
            **os.environ,
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_RUNTIME_PATH": str(self._folder / "runtime"),
            "PULSE_STATE_PATH": str(self._folder / "state"),
            "PULSE_COOKIE": str(self._folder / "cookie"),
            "HOME": str(self._folder),  # pulseaudio writes its config under $HOME
        }
        command = ["pulseaudio", "-n", "-F", str(config), "--daemonize=no"]
        command += ["--exit-idle-time=-1", "--disable-shm=yes", "--log-target=stderr"]
        log = (self._folder / "pulseaudio.log").open("wb")
        self._server = subprocess.Popen(command, env=self.env, stdout=log, stderr=log)
        try:
            self._wait_until_ready()
            # Keep the sink busy: otherwise the first captures start late, and stopping a
            # capture can hang.
            keep_busy = ["pacat", "-p", "--device=vspk", "--raw", "--format=s16le"]
            self._keep_busy = subprocess.Popen(
                [*keep_busy, f"--rate={self.rate}", "--channels=1", "/dev/zero"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.pactl("suspend-sink", "vspk", "1")
            self.pactl("suspend-sink", "vspk", "0")
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._server is not None and self._folder is not None
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                log = (self._folder / "pulseaudio.log").read_text(errors="replace")
                raise VirtualMicUnavailable(f"pulseaudio exited at start:\n{log[-2000:]}")
            if self.socket.exists():
                probe = subprocess.run(
                    ["pactl", "info"], env=self.env, capture_output=True, timeout=self.timeout
                )
                if probe.returncode == 0:
                    return
            time.sleep(0.05)
        raise VirtualMicUnavailable(f"pulseaudio did not answer within {self.timeout} s")

    def pactl(self, *arguments: str) -> str:
        """Run one `pactl` command against this server; its output."""
        done = subprocess.run(
            ["pactl", *arguments], env=self.env, capture_output=True, timeout=self.timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(arguments)} failed: {done.stderr.decode()}")
        return done.stdout.decode()

    def play(self, path: str | os.PathLike[str], *, timeout: float | None = None) -> None:
        """Play an audio file into the virtual microphone, in real time; returns when done."""
        seconds = timeout if timeout is not None else self.timeout + _duration(Path(path))
        subprocess.run(
            ["paplay", "--device=vspk", str(path)],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=seconds,
        )

    def freeze(self) -> None:
        """Stop the server process (SIGSTOP): the microphone stops delivering, as a dead device."""
        assert self._server is not None, "not started"
        self._server.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen server run again (SIGCONT)."""
        if self._server is not None and self._server.poll() is None:
            self._server.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the helper and the server, then remove the temporary folder."""
        self.thaw()
        for process in (self._keep_busy, self._server):
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=self.timeout)
        self._keep_busy = self._server = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> VirtualMicrophone:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _duration(path: Path) -> float:
    import soundfile

    return float(soundfile.info(str(path)).duration)


@pytest.fixture
def virtual_mic() -> Iterator[VirtualMicrophone]:
    """A started `VirtualMicrophone`; skips the test when PulseAudio is unavailable."""
    try:
        mic = VirtualMicrophone().start()
    except VirtualMicUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield mic
    finally:
        mic.stop()
