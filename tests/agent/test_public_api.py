import subprocess
import sys

import agent
import agent.testing

AGENT_NAMES = {
    "DEFAULT_BASE_URL", "MAX_AUDIO_ITEMS", "MAX_AUDIO_SECONDS", "Agent", "AgentEvent",
    "Asleep", "Awake", "PushToTalk",
    "AudioDeviceError", "AudioInput", "AudioTooLongError", "Backend", "BadAudioError", "Clip",
    "EventHandler", "History", "InvalidRequestError", "ModelReply", "PieceFailedError",
    "ReplyText", "Segment", "Transcript",
    "RequestRejectedError", "ServerError", "ServerInfo", "ServerUnavailableError",
    "SpeechStarted", "StreamError", "Timings", "ToolCall", "ToolCallFinished",
    "ToolCallStarted", "ToolChoice", "Turn", "TurnFailed", "TurnFinished", "TurnRecord",
    "TurnStarted", "TurnTimeoutError", "TurnTranscribed", "Usage", "UtteranceDropped",
    "UtteranceEnded", "VoxagentError", "VoxtralClient", "load_clip", "load_clips",
}  # fmt: skip


def test_the_exported_names_are_pinned_exactly() -> None:
    # A name added to or removed from `agent.__all__` must be a decision: update this set.
    assert set(agent.__all__) == AGENT_NAMES
    assert len(agent.__all__) == len(AGENT_NAMES)  # no name twice
    assert set(agent.testing.__all__) == {
        "RecordedRequest", "ScriptedBackend", "ScriptedCall", "ScriptedServer", "Step",
        "StepKind", "silence", "tone",
    }  # fmt: skip
    for module in (agent, agent.testing):
        for name in module.__all__:
            assert getattr(module, name) is not None, name


def test_every_public_name_of_agent_is_in_all() -> None:
    public = {name for name in dir(agent) if not name.startswith("_")}
    submodules = {name for name in public if type(getattr(agent, name)).__name__ == "module"}
    helpers = {"annotations", "importlib", "check_not_shadowed", "Any", "TYPE_CHECKING"}
    assert public - submodules - helpers <= set(agent.__all__)


def test_bad_audio_is_a_value_error() -> None:
    assert issubclass(agent.BadAudioError, ValueError)
    assert issubclass(agent.InvalidRequestError, ValueError)
    assert issubclass(agent.RequestRejectedError, agent.ServerError)
    assert issubclass(agent.AudioTooLongError, agent.BadAudioError)
    assert issubclass(agent.AudioTooLongError, agent.InvalidRequestError)


def test_importing_agent_does_not_open_the_microphone_stack() -> None:
    code = "import agent, sys; print('sounddevice' in sys.modules, 'agent.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_light_imports_load_no_http_stack_and_no_mistral_common() -> None:
    """Issue 9 (4): `import agent`, `agent.audio`, `agent.errors` stay light."""
    heavy = ("openai", "httpx", "httpx2", "mistral_common")
    for module in ("agent", "agent.audio", "agent.errors", "agent.backend", "tools"):
        code = f"import sys, {module}; print([m for m in {heavy!r} if m in sys.modules])"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "[]", (module, out.stdout)
