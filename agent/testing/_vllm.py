"""What vLLM serving Voxtral refuses, and with which error body: the rules of the scripted
server and the scripted backend (one place, so both refuse the same requests the same way)."""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass
from typing import Any

import soundfile as sf

from agent._rules import RuleViolation, check_chat_request
from agent.clips import MAX_AUDIO_ITEMS, audio_tokens

__all__ = [
    "LANGUAGES",
    "Rejection",
    "VllmRules",
    "error_body",
    "estimate_prompt_tokens",
    "models_payload",
    "unknown_model",
    "usage",
]

LANGUAGES = ("ar", "nl", "en", "fr", "de", "hi", "it", "pt", "es")
"""The languages vLLM's Voxtral transcription accepts."""

_ERROR_TYPES = {400: "BadRequestError", 404: "NotFoundError", 429: "RateLimitError"}
"""The `type` of vLLM's error body by status (others: `InternalServerError`)."""

_AUTO_NEEDS_PARSER = (
    '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A request vLLM refuses: the status, its message and the `param` of the error body."""

    status: int
    message: str
    param: str | None = None


def error_body(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    """vLLM's JSON error body."""
    kind = _ERROR_TYPES.get(status, "InternalServerError")
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def unknown_model(asked: object, served: str) -> Rejection:
    """vLLM's 404 for a model it does not serve."""
    return Rejection(404, f"The model `{asked}` does not exist. Valid aliases: {served}.", "model")


@dataclass(frozen=True, slots=True)
class VllmRules:
    """The server's settings that decide what it refuses.

    Attributes:
        model: the served model name.
        max_model_len: the context length (`--max-model-len`).
        max_audio_items: the `--limit-mm-per-prompt` audio limit.
        tool_calling: whether `--enable-auto-tool-choice --tool-call-parser` were given.
    """

    model: str
    max_model_len: int
    max_audio_items: int = MAX_AUDIO_ITEMS
    tool_calling: bool = True

    def check_chat(self, body: dict[str, Any]) -> Rejection | None:
        """None if vLLM would accept the chat request, else its rejection (in vLLM's order)."""
        if body.get("model") != self.model:
            return unknown_model(body.get("model"), self.model)
        return (
            _check_options(body, self.max_model_len)
            or self._check_tool_choice(body)
            or _check_message_order(body)
            or self._check_messages(body)
            or self._check_context(body)
        )

    def check_transcription(self, fields: dict[str, str], audio: bytes | None) -> Rejection | None:
        """None if vLLM would transcribe the upload, else its rejection."""
        if fields.get("model") != self.model:
            return unknown_model(fields.get("model"), self.model)
        language = fields.get("language")
        if language is not None and language not in LANGUAGES:
            message = f"Unsupported language: {language!r}.  Must be one of {list(LANGUAGES)}."
            return Rejection(400, message)
        if audio_seconds(audio) is None:
            return Rejection(400, "Invalid or unsupported audio file.")
        return None

    def _check_tool_choice(self, body: dict[str, Any]) -> Rejection | None:
        choice = body.get("tool_choice")
        if choice is not None and choice != "none" and not body.get("tools"):
            message = "When using `tool_choice`, `tools` must be set. (parameter=tool_choice)"
            return Rejection(400, message, "tool_choice")
        if choice == "auto" and not self.tool_calling:
            return Rejection(400, _AUTO_NEEDS_PARSER)
        return None

    def _check_messages(self, body: dict[str, Any]) -> Rejection | None:
        """mistral-common's validator and the tokenizer's checks (system prompt next to audio,
        audio items over the limit, stereo or headerless audio, tool-call ids, roles)."""
        try:
            check_chat_request(
                body["messages"],
                body.get("tools"),
                max_audio_items=self.max_audio_items,
                check_audio_data=True,
            )
        except RuleViolation as violation:
            return Rejection(400, str(violation), violation.param)
        return None

    def _check_context(self, body: dict[str, Any]) -> Rejection | None:
        # vLLM refuses a prompt that alone fills the context; it shortens `max_tokens` itself.
        prompt = estimate_prompt_tokens(body)
        if prompt < self.max_model_len:
            return None
        message = (
            f"This model's maximum context length is {self.max_model_len} tokens. However, "
            f"your prompt contains {prompt} input tokens, which exceeds this limit even "
            "without any output tokens. Please reduce the length of the input prompt. "
            f"(parameter=input_tokens, value={prompt})"
        )
        return Rejection(400, message, "input_tokens")


def _check_options(body: dict[str, Any], max_model_len: int) -> Rejection | None:
    for key in ("chat_template", "chat_template_kwargs"):
        if key in body:
            return Rejection(
                400, f"{key} is not supported for Mistral tokenizers. (parameter={key})", key
            )
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens > max_model_len:
        message = (
            f"max_tokens={max_tokens} cannot be greater than max_model_len={max_model_len}. "
            f"Please request fewer output tokens. (parameter=max_tokens, value={max_tokens})"
        )
        return Rejection(400, message, "max_tokens")
    return None


def _check_message_order(body: dict[str, Any]) -> Rejection | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return Rejection(400, "messages: a non-empty list is required", "messages")
    last = messages[-1]
    final_is_assistant = isinstance(last, dict) and last.get("role") == "assistant"
    if final_is_assistant and not body.get("continue_final_message"):
        return Rejection(
            400,
            "Cannot set `add_generation_prompt` to True when the last message is from the "
            "assistant. Consider using `continue_final_message` instead.",
        )
    return None


def audio_seconds(audio: bytes | None) -> int | None:
    """The whole seconds of an uploaded audio file (rounded up), None if unreadable."""
    try:
        info = sf.info(io.BytesIO(audio or b""))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None
    return math.ceil(info.frames / info.samplerate) if info.samplerate else 0


def usage(body: dict[str, Any], *, completion_tokens: int) -> dict[str, int]:
    """The `usage` object of an answer to `body`."""
    prompt_tokens = estimate_prompt_tokens(body)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """Roughly what the tokenizer would count: text at ~4 chars a token, audio exactly."""
    chars = 0
    tokens = 0
    for message in body.get("messages") or []:
        tokens += 4
        chars_here, audio_here = _message_size(message)
        chars += chars_here
        tokens += audio_here
    if body.get("tools"):
        chars += len(json.dumps(body["tools"]))
    return tokens + chars // 4


def _message_size(message: dict[str, Any]) -> tuple[int, int]:
    """(text characters, audio tokens) of one message."""
    content = message.get("content")
    chars = len(content) if isinstance(content, str) else 0
    tokens = 0
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            chars += len(str(part.get("text", "")))
        elif part.get("type") == "input_audio":
            data = str(part.get("input_audio", {}).get("data", ""))
            # 16 kHz PCM16 WAV: 32000 bytes a second, base64 is 4/3 of that.
            tokens += audio_tokens(len(data) * 3 / 4 / 32000)
    if message.get("tool_calls"):
        chars += len(json.dumps(message["tool_calls"]))
    return chars, tokens


_PERMISSION = {
    "id": "modelperm-scripted",
    "object": "model_permission",
    "created": 0,
    "allow_create_engine": False,
    "allow_sampling": True,
    "allow_logprobs": True,
    "allow_search_indices": False,
    "allow_view": True,
    "allow_fine_tuning": False,
    "organization": "*",
    "group": None,
    "is_blocking": False,
}


def models_payload(rules: VllmRules) -> dict[str, Any]:
    """vLLM's `/v1/models` answer."""
    entry = {
        "id": rules.model,
        "object": "model",
        "created": int(time.time()),
        "owned_by": "vllm",
        "root": rules.model,
        "parent": None,
        "max_model_len": rules.max_model_len,
        "permission": [_PERMISSION],
    }
    return {"object": "list", "data": [entry]}
