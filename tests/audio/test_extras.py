"""`agent.audio.extras`: model files found in wheels; a missing wheel says how to install it."""

from __future__ import annotations

import pytest

from agent.audio import MissingExtraError, silero_model_path
from agent.audio.extras import wheel_file
from tests.audio.conftest import without_site_packages

CASES = [
    ("silero", "EndpointerConfig(vad='silero').make_detector()", "silero-vad", "model_path="),
    ("turn", "Endpointer(turn_detector='smart-turn')", "pipecat-ai", "model_path="),
]


@pytest.mark.parametrize(("extra", "statement", "wheel", "api_hint"), CASES)
def test_a_missing_wheel_says_how_to_install_it(
    extra: str, statement: str, wheel: str, api_hint: str
) -> None:
    imports = "import webrtcvad\nfrom agent.audio import Endpointer, EndpointerConfig"
    said_extra, install, message = without_site_packages(imports, statement).split(" | ")
    assert said_extra == extra
    assert f"pip install 'voxtral-agent[{extra}]'" in install
    assert f"pip install --no-deps {wheel}" in install
    assert message.index("pip install") < message.index(api_hint)  # the CLI way first


def test_wheel_files_are_found_without_importing_the_package() -> None:
    import sys

    try:
        path = silero_model_path()
    except MissingExtraError:
        pytest.skip("needs the silero-vad wheel (pip install --no-deps silero-vad)")
    assert path.is_file() and path.name == "silero_vad.onnx"
    assert "silero_vad" not in sys.modules and "torch" not in sys.modules
    assert wheel_file("no-such-distribution", "x.onnx") is None
    assert wheel_file("silero-vad", "silero_vad/data/missing.onnx") is None
