"""The rules a request must follow to be accepted by vLLM serving Voxtral.

Both the agent (before sending) and `agent.testing.ScriptedServer` (on receipt) call this, so a
broken request fails the same way in tests as it would against a real server: through
mistral-common's v7 validator (what vLLM runs), plus the checks vLLM and the tokenizer make
beyond it (at most 5 audio items, no empty assistant message, mono audio in a container).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Iterator
from typing import Any

import soundfile as sf
from mistral_common.exceptions import MistralCommonException
from mistral_common.protocol.instruct.request import ChatCompletionRequest
from mistral_common.protocol.instruct.validator import (
    MistralRequestValidator,
    ValidationMode,
    get_validator,
)
from mistral_common.tokens.tokenizers.base import TokenizerVersion
from pydantic import ValidationError

from agent.limits import MAX_AUDIO_ITEMS

__all__ = ["RuleViolation", "check_chat_request", "count_audio_items"]

_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")

_VALIDATOR: MistralRequestValidator[Any, Any, Any, Any] = get_validator(
    TokenizerVersion.v7, ValidationMode.test
)


class RuleViolation(ValueError):
    """A request vLLM would refuse with a 400; the message is the server's wording."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def count_audio_items(messages: list[dict[str, Any]]) -> int:
    """Audio parts (`input_audio` or `audio_url`) in the whole message list."""
    return sum(1 for _ in _audio_parts(messages))


def _audio_parts(messages: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The `input_audio` and `audio_url` content parts of every message, in order."""
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") in ("input_audio", "audio_url"):
                    yield part


def check_chat_request(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    max_audio_items: int = MAX_AUDIO_ITEMS,
    check_audio_data: bool = False,
) -> None:
    """Raise `RuleViolation` if vLLM + mistral-common (tekken v7) would refuse the request.

    Args:
        messages: the OpenAI-format messages.
        tools: the OpenAI-format tool definitions.
        max_audio_items: the server's `--limit-mm-per-prompt` audio limit.
        check_audio_data: also decode each audio part (mono, in a container); the server
            does this, the agent does not need to (it encodes the audio itself).
    """
    audio_items = count_audio_items(messages)
    if audio_items > max_audio_items:
        raise RuleViolation(
            f"At most {max_audio_items} audio(s) may be provided in one prompt.", param="audio"
        )
    try:
        request = ChatCompletionRequest.from_openai(messages, tools)
        _VALIDATOR.validate_request(request)
    except (MistralCommonException, ValidationError, ValueError, TypeError, KeyError) as error:
        raise RuleViolation(_describe(error)) from error
    for message in request.messages:
        # The tokenizer (not the validator) refuses an assistant message with nothing in it.
        if message.role == "assistant" and not message.content and not message.tool_calls:
            raise RuleViolation(f"Invalid assistant message: {message}")
    if check_audio_data:
        for part in _audio_parts(messages):
            _check_audio_data(_audio_payload(part))


def _describe(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{first['msg']} at {where}"
    return str(error)


def _audio_payload(part: dict[str, Any]) -> str:
    """The base64 data of one audio part (an `audio_url` without its `data:...,` prefix)."""
    if part["type"] == "input_audio":
        return str(part.get("input_audio", {}).get("data", ""))
    return str(part.get("audio_url", {}).get("url", "")).split(",", 1)[-1]


def _check_audio_data(data: str) -> None:
    if not _BASE64.match(data):
        raise RuleViolation("Non-base64 digit found")  # vLLM's (pybase64's) wording
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise RuleViolation(str(error) or "Invalid base64 audio data.") from error
    try:
        info = sf.info(io.BytesIO(raw))
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise RuleViolation("Invalid or unsupported audio file.") from error
    if info.channels != 1:
        raise RuleViolation("audio_array.ndim=2")
