import pytest

import agent.testing
import agent.testing.pytest_plugin


def test_the_exported_names_are_pinned() -> None:
    assert agent.testing.__all__ == [
        "RecordedRequest",
        "ScriptedBackend",
        "ScriptedCall",
        "ScriptedServer",
        "Step",
        "StepKind",
        "silence",
        "tone",
    ]
    assert agent.testing.pytest_plugin.__all__ == ["scripted_backend", "scripted_server"]
    for name in agent.testing.__all__:
        assert getattr(agent.testing, name) is not None, name
    assert set(agent.testing.__all__) <= set(dir(agent.testing))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        getattr(agent.testing, "NoSuchThing")  # noqa: B009 (the point is the lookup)
