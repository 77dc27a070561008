"""`Microphone`: clear errors without a device; the real thing through a virtual microphone."""

from __future__ import annotations

import asyncio
import importlib.abc
import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.audio import Microphone, segment
from agent.audio import microphone as microphone_module
from agent.errors import AudioDeviceError
from tests.audio.corpus import ROOT, Corpus
from tests.virtual_mic import VirtualMicrophone, virtual_mic

__all__ = ["virtual_mic"]


UNKNOWN_DEVICE = """
import asyncio
from agent.audio import Microphone
from agent.errors import AudioDeviceError

async def main():
    try:
        async for _ in Microphone(device="no-such-device-anywhere"):
            pass
    except AudioDeviceError as exc:
        print(exc)

asyncio.run(main())
"""


def test_unknown_device_names_voxagent_devices() -> None:
    # In a subprocess: importing PortAudio here would freeze its device list for this process.
    done = subprocess.run(
        [sys.executable, "-c", UNKNOWN_DEVICE], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "no input device 'no-such-device-anywhere'" in done.stdout, done.stderr
    assert "voxagent devices" in done.stdout


async def test_missing_portaudio_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoPortAudio(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, *args: object) -> None:
            if name == "sounddevice":
                raise OSError("PortAudio library not found")

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPortAudio(), *sys.meta_path])
    with pytest.raises(AudioDeviceError, match=r"PortAudio.*libportaudio2.*voxagent devices"):
        async for _ in Microphone():
            pass


async def test_a_slow_consumer_overflows_the_bounded_queue_and_is_counted() -> None:
    mic = Microphone(max_queued_s=0.06)  # two 30 ms blocks
    assert mic.max_queued == 2
    block = np.zeros((480, 1), dtype=np.int16)
    for _ in range(5):
        mic._deliver(block)  # what the PortAudio callback schedules on the loop
    assert mic.overflows == 3


class _SlowStream:
    """A PortAudio stream whose start takes longer than the microphone waits."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def start(self) -> None:
        time.sleep(0.3)

    def abort(self) -> None:
        pass

    def close(self) -> None:
        self.closed.set()


class _SlowDevices:
    """Just enough of sounddevice for `Microphone` to open one `_SlowStream`."""

    PortAudioError = OSError

    def __init__(self) -> None:
        self.streams: list[_SlowStream] = []

    def query_devices(self, device: object, kind: str) -> dict[str, object]:
        return {"name": "slow", "default_samplerate": 16000.0, "max_input_channels": 1}

    def check_input_settings(self, **settings: object) -> None:
        pass

    def InputStream(self, **settings: object) -> _SlowStream:
        self.streams.append(_SlowStream())
        return self.streams[-1]


async def test_a_device_that_starts_too_late_is_reported_and_its_stream_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    devices = _SlowDevices()
    monkeypatch.setattr(microphone_module, "_sounddevice", lambda: devices)
    with pytest.raises(AudioDeviceError, match=r"did not start within 0.05 s.*voxagent devices"):
        async for _ in Microphone(start_timeout_s=0.05, system_echo_cancel=False):
            pass
    await _stopped_in_time(devices)


async def test_cancelling_while_the_device_starts_stops_its_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    devices = _SlowDevices()
    monkeypatch.setattr(microphone_module, "_sounddevice", lambda: devices)

    async def hear() -> None:
        async for _ in Microphone(start_timeout_s=5.0, system_echo_cancel=False):
            pass

    task = asyncio.create_task(hear())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _stopped_in_time(devices)


async def _stopped_in_time(devices: _SlowDevices) -> None:
    deadline = time.monotonic() + 5
    while not (devices.streams and devices.streams[0].closed.is_set()):
        assert time.monotonic() < deadline, "the stream that started late was never stopped"
        await asyncio.sleep(0.02)


def capture(mic: VirtualMicrophone, seconds: float, watchdog: float = 2.0) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.audio.mic_capture", "--seconds", str(seconds)]
    process = subprocess.Popen(
        [*command, "--watchdog", str(watchdog)],
        env=mic.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 20
    line = process.stdout.readline()  # blocks until READY (or the process dies)
    if line.strip() != "READY" or time.monotonic() > deadline:
        process.kill()
        errors = process.stderr.read() if process.stderr else ""
        pytest.fail(f"capture did not start: {line!r} {errors}")
    return process


def result_of(process: subprocess.Popen[str], timeout: float) -> dict[str, object]:
    out, err = process.communicate(timeout=timeout)
    assert out.strip(), err
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.pulse
@pytest.mark.timeout(90)
def test_microphone_hears_what_segment_finds_in_the_file(
    virtual_mic: VirtualMicrophone, corpus: Corpus, tmp_path: Path
) -> None:
    audio, rate = sf.read(corpus.path("clean"), dtype="int16")
    cut = round((corpus.utterances("clean")[2]["end"] + 1.0) * rate)  # three utterances
    clip = tmp_path / "three.wav"
    sf.write(clip, audio[:cut], rate)
    expected = segment(clip)
    assert len(expected) == 3
    process = capture(virtual_mic, seconds=cut / rate + 2.0)
    virtual_mic.play(clip)
    result = result_of(process, timeout=30)
    assert "error" not in result, result
    heard = result["utterances"]
    assert isinstance(heard, list) and len(heard) == 3, result
    offset = heard[0]["start"] - expected[0].start  # when playback began in the capture
    for found, wanted in zip(heard, expected, strict=True):
        assert found["start"] - offset == pytest.approx(wanted.start, abs=0.12)
        assert found["end"] - offset == pytest.approx(wanted.end, abs=0.2)
    assert result["overflows"] == 0


@pytest.mark.pulse
@pytest.mark.timeout(60)
def test_a_device_that_stops_delivering_trips_the_watchdog(virtual_mic: VirtualMicrophone) -> None:
    process = capture(virtual_mic, seconds=60.0, watchdog=1.0)
    time.sleep(0.3)
    virtual_mic.freeze()
    started = time.monotonic()
    result = result_of(process, timeout=20)
    assert time.monotonic() - started < 10
    assert "delivered no audio for 1 s" in str(result.get("error")), result
    assert "voxagent devices" in str(result["error"])


LIST_DEVICES = """
import json
import re
import signal
from agent.audio import input_devices
print(json.dumps([device.name for device in input_devices() if device.is_default]))
"""


@pytest.mark.pulse
@pytest.mark.timeout(60)
def test_input_devices_lists_the_virtual_microphone(virtual_mic: VirtualMicrophone) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LIST_DEVICES],
        env=virtual_mic.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["default"]  # ALSA's default, routed to PulseAudio's vmic


MISSING_DEVICE = """
import asyncio
from agent.audio import Microphone

async def main():
    async for _ in Microphone(device="a microphone that is not there"):
        pass

asyncio.run(main())
"""


def test_a_missing_microphone_is_a_clear_error_not_a_hang() -> None:
    # A subprocess: PortAudio fixes its device list when first imported in a process.
    done = subprocess.run(
        [sys.executable, "-c", MISSING_DEVICE], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith("agent.errors.AudioDeviceError"), done.stderr
    assert "a microphone that is not there" in last_line
    assert "voxagent devices" in last_line


def test_microphone_is_an_audio_source_that_opens_nothing_until_iterated() -> None:
    mic = Microphone(device=None)
    assert mic.sample_rate == 16000 and mic.overflows == 0 and not mic.closed
    assert mic.device_name is None  # nothing opened yet


ROUTE_PROBE = """
import argparse, asyncio, contextlib, json, sys
import numpy as np
from agent.audio import Microphone
from agent.cli._speech_commands import _echo
from agent.speech import SoundDeviceSpeaker

async def main(device):
    notes = []
    args = argparse.Namespace(echo="auto", device=device, output_device=None)
    echo = await _echo(args, True, notes)
    async with Microphone(device) as mic, SoundDeviceSpeaker() as speaker:
        frames = aiter(mic)
        await anext(frames)
        await speaker.play(np.zeros(4800, np.int16))
        print(json.dumps({
            "source": mic.echo_cancelled_source, "sink": speaker.echo_cancel_sink,
            "device": mic.device_name, "echo": type(echo).__name__, "notes": notes,
        }), flush=True)
        reading = asyncio.ensure_future(asyncio.to_thread(sys.stdin.readline))
        while not reading.done():
            await asyncio.wait({reading, asyncio.ensure_future(anext(frames))},
                                return_when=asyncio.FIRST_COMPLETED)

asyncio.run(main(None if sys.argv[1] == "-" else sys.argv[1]))
"""


def _load_echo_cancel(mic: VirtualMicrophone) -> str:
    """module-echo-cancel (WebRTC's canceller, else speex, else none) between a room (a null
    sink whose monitor is the microphone) and the speaker `vspk`; the method loaded. (Not on
    `vmic`: that hears `vspk` itself, a loop in which the canceller delivers nothing.)"""
    mic.pactl("load-module", "module-null-sink", "sink_name=room", "rate=16000", "channels=1")
    for method in ("webrtc", "speex", "null"):
        try:
            mic.pactl(
                "load-module", "module-echo-cancel", f"aec_method={method}", "rate=16000",
                "source_master=room.monitor", "sink_master=vspk",
                "source_name=vmic_ec", "sink_name=vspk_ec",
            )  # fmt: skip
        except RuntimeError:
            continue
        return method
    pytest.skip("this PulseAudio has no module-echo-cancel")


def _streams_of(mic: VirtualMicrophone, pid: int, kind: str) -> list[str]:
    """The names of the sources (kind "source") or sinks ("sink") that process `pid`'s
    recording (or playback) streams are attached to, from `pactl list`."""
    names = {}
    for line in mic.pactl("list", "short", f"{kind}s").splitlines():
        index, name = line.split("\t")[:2]
        names[index] = name
    listing = mic.pactl("list", "source-outputs" if kind == "source" else "sink-inputs")
    attached = []
    for block in listing.split("\n\n"):
        owner = re.search(r'application\.process\.id = "(\d+)"', block)
        device = re.search(rf"^\s*{kind.capitalize()}: (\d+)$", block, re.MULTILINE)
        if owner and device and int(owner.group(1)) == pid:
            attached.append(names[device.group(1)])
    return attached


def _probe(mic: VirtualMicrophone, device: str = "-") -> tuple[subprocess.Popen[str], dict]:
    process = subprocess.Popen(
        [sys.executable, "-c", ROUTE_PROBE, device],
        env=mic.env, cwd=ROOT, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        pytest.fail(f"the probe did not start: {process.communicate(timeout=10)[1]}")
    return process, json.loads(line)


def _end(process: subprocess.Popen[str]) -> None:
    process.communicate("\n", timeout=20)


@pytest.mark.pulse
@pytest.mark.timeout(90)
def test_the_default_microphone_records_from_the_echo_cancelled_source(
    virtual_mic: VirtualMicrophone,
) -> None:
    method = _load_echo_cancel(virtual_mic)
    process, seen = _probe(virtual_mic)
    try:
        assert _streams_of(virtual_mic, process.pid, "source") == ["vmic_ec"], method
        assert _streams_of(virtual_mic, process.pid, "sink") == ["vspk_ec"]
    finally:
        _end(process)
    assert seen["source"] == "vmic_ec" and seen["sink"] == "vspk_ec", seen
    assert seen["device"] == "vmic_ec (echo-cancelled, through pulse)"
    # The sound server cancels the echo: no filter of ours, and the console says so.
    assert seen["echo"] == "NoneType"
    assert len(seen["notes"]) == 1 and "vmic_ec" in seen["notes"][0]


@pytest.mark.pulse
@pytest.mark.timeout(90)
def test_a_device_named_wins_over_the_echo_cancelled_source(
    virtual_mic: VirtualMicrophone,
) -> None:
    _load_echo_cancel(virtual_mic)
    process, seen = _probe(virtual_mic, "default")
    try:
        assert _streams_of(virtual_mic, process.pid, "source") == ["vmic"]
    finally:
        _end(process)
    assert seen["source"] is None and seen["echo"] in ("EchoCanceller", "EchoGate"), seen


@pytest.mark.pulse
@pytest.mark.timeout(90)
def test_without_module_echo_cancel_nothing_changes(virtual_mic: VirtualMicrophone) -> None:
    process, seen = _probe(virtual_mic)
    try:
        assert _streams_of(virtual_mic, process.pid, "source") == ["vmic"]
        assert _streams_of(virtual_mic, process.pid, "sink") == ["vspk"]
    finally:
        _end(process)
    assert seen["source"] is None and seen["sink"] is None, seen
    assert seen["device"] == "default"
    assert seen["echo"] in ("EchoCanceller", "EchoGate") and not any(
        "module-echo-cancel)" in note for note in seen["notes"]
    )


@pytest.mark.pulse
@pytest.mark.timeout(120)
def test_voxagent_run_listens_through_the_echo_cancelled_source(
    virtual_mic: VirtualMicrophone, tmp_path: Path
) -> None:
    from agent.testing import ScriptedServer
    from tests.cli.conftest import clean_env, voxagent_command

    _load_echo_cancel(virtual_mic)
    env = clean_env(tmp_path)
    env.update({key: value for key, value in virtual_mic.env.items() if key.startswith("PULSE")})
    with ScriptedServer() as server:
        process = subprocess.Popen(
            [*voxagent_command(), "run", "--base-url", server.base_url, "--voice", "espeak"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert process.stderr is not None
            said: list[str] = []  # the console's lines up to the note on echo
            while len(said) < 10 and not (said and "cancels it" in said[-1]):
                said.append(process.stderr.readline())
            deadline = time.monotonic() + 30
            while not _streams_of(virtual_mic, process.pid, "source"):
                assert time.monotonic() < deadline and process.poll() is None, said
                time.sleep(0.1)  # until the microphone is open (a condition, not a time)
            assert _streams_of(virtual_mic, process.pid, "source") == ["vmic_ec"]
            assert _streams_of(virtual_mic, process.pid, "sink") == ["vspk_ec"]
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    assert any("the sound server cancels it" in line and "vmic_ec" in line for line in said), said
