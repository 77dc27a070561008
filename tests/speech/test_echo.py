"""Echo cancellation in a simulated room: the assistant's own voice, delayed, attenuated and
reverberant in the microphone, never looks like speech to the VAD once cancelled; the user
talking over it still does. And the sound server's echo-cancelled source is detected."""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest

from agent.audio import segment
from agent.audio.convert import PCM16
from agent.audio.echo import EchoCanceller, EchoFilter, EchoGate, system_echo_cancel
from agent.speech import EspeakVoice, PiperVoice
from tests.speech.conftest import synthesize_16k
from tests.speech.room import Room, room_impulse_response
from tests.virtual_mic import VirtualMicrophone

pytest.importorskip("livekit.rtc", reason="echo cancellation needs livekit (extra [aec])")

REPLY = " ".join(
    [
        "The weather in Paris will be sunny with a light breeze from the west, and temperatures "
        "around twenty degrees in the afternoon."
    ]
    * 3
)
USER = "Stop, stop, that is enough, thank you."


ROOMS = [(0.05, -6.0), (0.1, 0.0), (0.03, -12.0)]
"""Echo delay (s) and level (dB) of the rooms: near, loud and far loudspeakers."""


def cancel(played: PCM16, mic: PCM16, delay_ms: int, echo: EchoFilter | None = None) -> PCM16:
    """The mic through a fresh canceller, fed as a live loop would: 30 ms at a time."""
    canceller = echo or EchoCanceller(delay_ms=delay_ms)
    reference = np.concatenate([played, np.zeros(max(0, mic.size - played.size), np.int16)])
    cleaned = []
    for start in range(0, mic.size - mic.size % 480, 480):
        canceller.far_end(reference[start : start + 480])
        cleaned.append(canceller.process(mic[start : start + 480]))
    return np.concatenate(cleaned)


@pytest.fixture(scope="module")
def reply_and_user(piper: PiperVoice, espeak: EspeakVoice) -> tuple[PCM16, PCM16]:
    """The assistant's long reply (Piper) and the user's interruption (another voice)."""

    async def both() -> tuple[PCM16, PCM16]:
        user = EspeakVoice("en+f3")
        return await synthesize_16k(piper, REPLY), await synthesize_16k(user, USER)

    return asyncio.run(both())


@pytest.mark.parametrize(("delay_s", "gain_db"), ROOMS)
async def test_the_cancelled_echo_of_a_long_reply_is_never_speech(
    reply_and_user: tuple[PCM16, PCM16], delay_s: float, gain_db: float
) -> None:
    reply, _ = reply_and_user
    assert reply.size > 15 * 16_000  # a long reply
    room = Room(room_impulse_response(delay_s=delay_s, gain_db=gain_db))
    mic = room.microphone(reply)
    assert segment(mic, 16000), "without cancellation the echo is speech to the VAD"
    assert segment(cancel(reply, mic, round(delay_s * 1000)), 16000) == []


async def test_the_user_talking_over_the_reply_is_still_heard(
    reply_and_user: tuple[PCM16, PCM16],
) -> None:
    reply, user = reply_and_user
    room = Room(room_impulse_response(delay_s=0.05, gain_db=-6.0))
    mic = room.microphone(reply, user, user_at=4.0)
    heard = segment(cancel(reply, mic, 50), 16000)
    assert len(heard) == 1
    assert heard[0].start == pytest.approx(4.0, abs=0.3)
    assert heard[0].duration > 0.7 * user.size / 16_000


@pytest.mark.parametrize(("delay_s", "gain_db"), ROOMS)
async def test_without_cancellation_the_gate_never_lets_the_echo_through(
    reply_and_user: tuple[PCM16, PCM16], delay_s: float, gain_db: float
) -> None:
    reply, user = reply_and_user
    room = Room(room_impulse_response(delay_s=delay_s, gain_db=gain_db))
    assert segment(cancel(reply, room.microphone(reply), 0, EchoGate()), 16000) == []
    # With the user talking too, whatever passes is the user (from 8 s on), never the echo.
    mic = room.microphone(reply, user, user_at=8.0)
    heard = segment(cancel(reply, mic, 0, EchoGate()), 16000)
    assert all(utterance.start >= 8.0 - 0.35 for utterance in heard)


async def test_the_gate_lets_a_clearly_louder_user_barge_in(
    reply_and_user: tuple[PCM16, PCM16],
) -> None:
    reply, user = reply_and_user
    louder = np.clip(user.astype(np.int32) * 4, -32768, 32767).astype(np.int16)  # +12 dB
    room = Room(room_impulse_response(delay_s=0.03, gain_db=-12.0))
    heard = segment(
        cancel(reply, room.microphone(reply, louder, user_at=8.0), 0, EchoGate()), 16000
    )
    assert len(heard) == 1 and heard[0].start == pytest.approx(8.0, abs=0.3)


def test_both_are_echo_filters() -> None:
    assert isinstance(EchoCanceller(), EchoFilter) and isinstance(EchoGate(), EchoFilter)


def test_a_missing_livekit_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from agent.errors import VoxagentError

    monkeypatch.setitem(sys.modules, "livekit", None)
    with pytest.raises(VoxagentError, match=r"voxtral-agent\[aec\]"):
        EchoCanceller()


@pytest.mark.pulse
@pytest.mark.timeout(60)
def test_the_system_echo_cancelled_source_is_detected(
    virtual_mic: VirtualMicrophone, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PULSE_SERVER", "PULSE_RUNTIME_PATH", "PULSE_STATE_PATH", "PULSE_COOKIE"):
        monkeypatch.setenv(name, virtual_mic.env[name])
    before = system_echo_cancel()
    assert not before.available and "module-echo-cancel" in before.detail
    try:
        virtual_mic.pactl(
            "load-module",
            "module-echo-cancel",
            "source_master=vmic",
            "sink_master=vspk",
            "aec_method=null",
            "source_name=vmic_echo_cancel",
        )
    except RuntimeError as error:
        pytest.skip(f"this PulseAudio has no module-echo-cancel: {error}")
    after = system_echo_cancel()
    assert after.available and after.source == "vmic_echo_cancel", after
    assert after.sink == "vspk.echo-cancel", after  # its own name, not its monitor's
    assert os.environ["PULSE_SERVER"] == virtual_mic.env["PULSE_SERVER"]


@pytest.mark.pulse
@pytest.mark.timeout(60)
async def test_doctor_says_run_uses_the_echo_cancelled_source(
    virtual_mic: VirtualMicrophone, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.cli._doctor import _echo_cancellation

    for name in ("PULSE_SERVER", "PULSE_RUNTIME_PATH", "PULSE_STATE_PATH", "PULSE_COOKIE"):
        monkeypatch.setenv(name, virtual_mic.env[name])
    assert "voxagent run uses it" not in (await _echo_cancellation()).detail
    try:
        virtual_mic.pactl(
            "load-module", "module-echo-cancel", "aec_method=null",
            "source_master=vmic", "sink_master=vspk", "source_name=vmic_ec",
        )  # fmt: skip
    except RuntimeError as error:
        pytest.skip(f"this PulseAudio has no module-echo-cancel: {error}")
    check = await _echo_cancellation()
    assert check.outcome == "ok" and "echo-cancelled source vmic_ec" in check.detail, check
    assert "voxagent run uses it when no --device is given" in check.detail
