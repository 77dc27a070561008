import agent
import agent.testing


def test_the_exported_names_are_pinned() -> None:
    assert set(agent.__all__) >= {
        "Agent", "Turn", "Usage", "Timings", "History", "VoxagentError", "BadAudioError",
        "InvalidRequestError", "ServerUnavailableError", "ServerError", "RequestRejectedError",
        "StreamError", "ReplyText", "ToolCallStarted", "ToolCallFinished", "TurnFinished",
        "ServerInfo", "VoxtralClient", "load_clip", "load_clips",
    }  # fmt: skip
    assert set(agent.testing.__all__) == {
        "RecordedRequest", "ScriptedBackend", "ScriptedCall", "ScriptedServer", "Step", "StepKind", "silence", "tone"
    }  # fmt: skip
    for module in (agent, agent.testing):
        for name in module.__all__:
            assert getattr(module, name) is not None, name


def test_bad_audio_is_a_value_error() -> None:
    assert issubclass(agent.BadAudioError, ValueError)
    assert issubclass(agent.InvalidRequestError, ValueError)
    assert issubclass(agent.RequestRejectedError, agent.ServerError)


def test_importing_agent_does_not_open_the_microphone_stack() -> None:
    import subprocess
    import sys

    code = "import agent, sys; print('sounddevice' in sys.modules, 'agent.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
