"""The conversation as Voxtral may see it: audio policy and token budget.

`History` keeps one `TurnRecord` per finished user turn. `render` turns them into the OpenAI
messages of the next request, applying the rules Voxtral on vLLM imposes:

- the agent's instructions go first as user text (never a system message: tekken v7 refuses
  a system prompt next to audio);
- only the newest turns keep their audio, never more than `max_audio_items` items in the whole
  request; an older turn is represented by its transcript (or a short stand-in);
- whole turns are dropped oldest-first when the estimated prompt would not fit the server's
  context minus a reply reserve, so a tool call is never separated from its result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mistral_common.protocol.instruct.chunk import AudioChunk, ContentChunk, TextChunk
from mistral_common.protocol.instruct.messages import UserMessage

from agent.clips import Clip
from agent.errors import AudioTooLongError, InvalidRequestError
from agent.limits import AUDIO_TOKENS_PER_30S, MAX_AUDIO_ITEMS
from tools._tokens import estimate_tokens

if TYPE_CHECKING:
    from agent.backend import ToolCall
    from tools import ToolResult

__all__ = ["History", "TurnRecord", "audio_too_long", "estimate_tokens"]

_TOKENS_PER_MESSAGE = 4


def audio_too_long(label: str, seconds: float, needed: int, available: int) -> str:
    """Why `seconds` of audio (costing `needed` tokens) cannot go to a server with `available`
    prompt tokens left for it, and how much would fit."""
    fits = max(0, available) // AUDIO_TOKENS_PER_30S * 30
    return (
        f"{label}: {seconds:.1f} s of audio needs about {needed} prompt tokens, but this "
        f"server's context leaves {max(0, available)} for it (about {fits // 60} min "
        f"{fits % 60} s of audio): send a shorter recording, or start vLLM with a larger "
        "--max-model-len"
    )


@dataclass(eq=False)
class TurnRecord:
    """One user turn: what the user sent and the assistant/tool messages that followed.

    Attributes:
        index: the turn's number in the conversation.
        clips: the turn's audio.
        text: the text the caller sent with the turn (None for audio only).
        transcripts: one transcript per clip once transcription finished (None if not made).
        replies: assistant and tool messages of the turn, in order (OpenAI format); never an
            empty assistant message. Written only through the `add_*` methods.
        interrupted: the turn was cut short (cancelled, timed out, or the user barged in);
            what it holds is what happened up to then.
    """

    index: int
    clips: list[Clip] = field(default_factory=list)
    text: str | None = None
    transcripts: list[str] | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    _with_audio: dict[str, Any] | None = field(default=None, init=False, repr=False)

    @property
    def transcript(self) -> str | None:
        """The clips' transcripts joined, or None when none was made."""
        if self.transcripts is None:
            return None
        return " ".join(part.strip() for part in self.transcripts if part.strip())

    @property
    def has_actions(self) -> bool:
        """Whether tool calls were answered in this turn (some ran: the turn must be kept)."""
        return any(message["role"] == "tool" for message in self.replies)

    def add_reply(self, content: str) -> None:
        """The assistant's text reply (nothing is recorded for an empty one)."""
        if content.strip():
            self.replies.append({"role": "assistant", "content": content})

    def add_tool_calls(self, content: str, calls: Sequence[ToolCall]) -> None:
        """The assistant message that makes `calls` (ids as the server gave them)."""
        self.replies.append(
            {
                "role": "assistant",
                "content": content or None,
                "tool_calls": [call.to_openai() for call in calls],
            }
        )

    def add_tool_results(self, results: Sequence[ToolResult]) -> None:
        """One tool message per call, in the order of the calls."""
        self.replies.extend(result.to_message() for result in results)

    def user_message(self, *, with_audio: bool) -> dict[str, Any]:
        """The user message, with the audio itself or with text standing in for it."""
        if not self.clips:
            return {"role": "user", "content": self.text or ""}
        if with_audio:
            if self._with_audio is None:
                self._with_audio = _audio_user_message(self.clips, self.text)
            return self._with_audio
        return {"role": "user", "content": self._stand_in()}

    def tokens(self, *, with_audio: bool) -> int:
        """Estimated prompt tokens of the whole turn rendered this way."""
        total = _TOKENS_PER_MESSAGE + estimate_tokens(self.text or "")
        if with_audio:
            total += sum(clip.tokens for clip in self.clips)
        elif self.clips:
            total += estimate_tokens(self._stand_in())
        for message in self.replies:
            total += _TOKENS_PER_MESSAGE + estimate_tokens(_message_text(message))
        return total

    def _stand_in(self) -> str:
        seconds = sum(clip.duration for clip in self.clips)
        transcript = self.transcript
        if transcript:
            said = f"[The user said, transcribed from {seconds:.1f} s of audio:] {transcript}"
        else:
            said = f"[The user sent {seconds:.1f} s of audio; no transcript is available.]"
        return f"{said}\n{self.text}" if self.text else said


class History:
    """The conversation of one agent, rendered under Voxtral's limits.

    Args:
        instructions: the agent's instructions, sent as the first user text of every request.
        max_audio_items: the most audio items one request may carry (1 to 5).
    """

    def __init__(self, instructions: str | None = None, *, max_audio_items: int = 5) -> None:
        if not 1 <= max_audio_items <= MAX_AUDIO_ITEMS:
            raise ValueError(
                f"max_audio_items must be between 1 and {MAX_AUDIO_ITEMS} (vLLM refuses more "
                f"than {MAX_AUDIO_ITEMS} audio items per request), got {max_audio_items}"
            )
        self._instructions = instructions
        self.max_audio_items = max_audio_items
        self.records: list[TurnRecord] = []
        self.version = 0
        """Counts the changes to what a request says (turns added, cleared, instructions)."""

    @property
    def instructions(self) -> str | None:
        """The agent's instructions, sent as the first user text of every request."""
        return self._instructions

    @instructions.setter
    def instructions(self, value: str | None) -> None:
        self._instructions = value
        self.version += 1

    def __len__(self) -> int:
        return len(self.records)

    def commit(self, record: TurnRecord) -> None:
        """Add a finished turn."""
        self.records.append(record)
        self.version += 1

    def clear(self) -> None:
        """Forget every turn (the instructions stay)."""
        self.records.clear()
        self.version += 1

    def check_clip_count(self, count: int) -> None:
        """Raise `InvalidRequestError` if one turn's `count` clips exceed `max_audio_items`."""
        if count > self.max_audio_items:
            raise InvalidRequestError(
                f"this turn has {count} audio clips but the agent sends at most "
                f"{self.max_audio_items} per request (max_audio_items): send fewer clips"
            )

    def render(
        self,
        current: TurnRecord | None = None,
        *,
        token_budget: int | None = None,
        fixed_tokens: int = 0,
    ) -> list[dict[str, Any]]:
        """The messages of the next request: the past turns, then `current` (if any).

        Args:
            current: the turn in progress; it always keeps its audio and is never dropped.
            token_budget: the prompt tokens allowed (context minus reply reserve); None: no
                trimming.
            fixed_tokens: tokens spent outside the messages (the tool schemas).

        Raises:
            InvalidRequestError: the current turn alone does not fit `token_budget`, or it has
                more clips than `max_audio_items`.
        """
        records = [*self.records, *([current] if current is not None else [])]
        keeps_audio = self._audio_plan(records, current)
        start = 0
        if token_budget is not None:
            base = fixed_tokens + self._instruction_tokens()
            costs = [
                record.tokens(with_audio=keep)
                for record, keep in zip(records, keeps_audio, strict=True)
            ]
            total = base + sum(costs)
            while total > token_budget and start < len(records) - 1:
                total -= costs[start]
                start += 1
            if total > token_budget:
                self._refuse_long_audio(current, token_budget, total)
                raise InvalidRequestError(
                    f"this turn needs about {total} prompt tokens but only {token_budget} fit "
                    "the server's context (max_model_len minus the reply reserve): send "
                    "shorter audio, fewer clips or fewer tools, or start vLLM with a larger "
                    "--max-model-len"
                )
        messages: list[dict[str, Any]] = []
        if self.instructions:
            messages.append({"role": "user", "content": self.instructions})
        for record, keep in zip(records[start:], keeps_audio[start:], strict=True):
            messages.append(record.user_message(with_audio=keep))
            messages.extend(record.replies)
        return messages

    @staticmethod
    def _refuse_long_audio(current: TurnRecord | None, budget: int, total: int) -> None:
        """`BadAudioError` when it is the current turn's audio that does not fit."""
        if current is None or not current.clips:
            return
        audio = sum(clip.tokens for clip in current.clips)
        if total - audio <= budget:  # without its audio the turn would fit
            seconds = sum(clip.duration for clip in current.clips)
            label = ", ".join(clip.name for clip in current.clips)
            raise AudioTooLongError(audio_too_long(label, seconds, audio, budget - (total - audio)))

    def _audio_plan(self, records: Sequence[TurnRecord], current: TurnRecord | None) -> list[bool]:
        """Which records keep their audio: the newest ones, within `max_audio_items`."""
        if current is not None:
            self.check_clip_count(len(current.clips))
        plan = [False] * len(records)
        left = self.max_audio_items
        for position in range(len(records) - 1, -1, -1):
            needed = len(records[position].clips)
            if needed > left:
                break
            plan[position] = True
            left -= needed
        return plan

    def _instruction_tokens(self) -> int:
        if not self.instructions:
            return 0
        return _TOKENS_PER_MESSAGE + estimate_tokens(self.instructions)


def _audio_user_message(clips: Sequence[Clip], text: str | None) -> dict[str, Any]:
    chunks: list[ContentChunk] = [AudioChunk(input_audio=clip.base64()) for clip in clips]
    if text:
        chunks.append(TextChunk(text=text))
    return UserMessage(content=chunks).to_openai()


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content) if content else ""
    if message.get("tool_calls"):
        text += json.dumps(message["tool_calls"])
    return text
