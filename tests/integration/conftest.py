import os

import pytest

BASE_URL = os.environ.get("VOXAGENT_TEST_BASE_URL", "")

needs_vllm = pytest.mark.skipif(
    not BASE_URL,
    reason="VOXAGENT_TEST_BASE_URL is not set: start a vLLM server (../shared/vllm-tiny/up 8011 "
    "or `voxagent serve`) and export its /v1 URL to run the real-server tier",
)


@pytest.fixture
def base_url() -> str:
    return BASE_URL
