"""The methods a test writes a script with, shared by `ScriptedServer` and `ScriptedBackend`,
and what both tell about the requests they received."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self, Unpack

from agent.testing._script import CHAT_PATH, TRANSCRIPTION_PATH, Script, ScriptOptions
from agent.testing._steps import Expectation, RecordedRequest, ScriptedCall, Step

__all__ = ["Scripting"]


class Scripting:
    """Queue steps (`reply`, `reply_tool_call`, `fail`, ...) and read what was received."""

    def __init__(self, **options: Unpack[ScriptOptions]) -> None:
        self._script = Script(**options)

    @property
    def model(self) -> str:
        """The served model name."""
        return self._script.rules.model

    @property
    def max_model_len(self) -> int:
        """The context length the server reports."""
        return self._script.rules.max_model_len

    # --- chat steps ---------------------------------------------------------------------

    def add(self, step: Step) -> Self:
        """Queue one step (answers the next unanswered chat request)."""
        self._script.add_chat(step)
        return self

    def reply(
        self,
        text: str = "",
        *,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        finish_reason: str | None = None,
        expect: Expectation | None = None,
    ) -> Self:
        """The model answers with `text` ("" is an empty reply, as the tiny model gives)."""
        return self.add(
            Step(
                content=text,
                delay=delay,
                chunk_delay=chunk_delay,
                finish_reason=finish_reason,
                expect=expect,
            )
        )

    def reply_tool_call(
        self,
        name: str,
        arguments: dict[str, Any] | str | None = None,
        *,
        text: str = "",
        delay: float = 0.0,
        expect: Expectation | None = None,
    ) -> Self:
        """The model calls one tool (a fresh 9-character id is generated)."""
        call = ScriptedCall(name, {} if arguments is None else arguments)
        return self.add(Step(content=text, tool_calls=(call,), delay=delay, expect=expect))

    def reply_tool_calls(
        self,
        *calls: ScriptedCall | tuple[str, dict[str, Any] | str],
        text: str = "",
        delay: float = 0.0,
        expect: Expectation | None = None,
    ) -> Self:
        """The model calls several tools in one reply."""
        scripted = tuple(
            call if isinstance(call, ScriptedCall) else ScriptedCall(call[0], call[1])
            for call in calls
        )
        return self.add(Step(content=text, tool_calls=scripted, delay=delay, expect=expect))

    def fail(
        self,
        status: int = 500,
        message: str = "Internal Server Error",
        *,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> Self:
        """Answer the next `times` chat requests with an HTTP error in vLLM's body shape
        (`headers`, e.g. `{"Retry-After": "2"}`, sent with it)."""
        for _ in range(times):
            self.add(Step(kind="http_error", status=status, message=message, headers=headers or {}))
        return self

    def fail_mid_stream(self, message: str = "engine died", *, partial: str = "") -> Self:
        """A streamed 200 that sends `partial` text, then an error line (vLLM's shape)."""
        return self.add(Step(kind="stream_error", content=partial, message=message))

    def cut_stream(self, *, partial: str = "") -> Self:
        """A streamed 200 that sends `partial` text and ends its body cleanly with no finish
        chunk or `[DONE]`."""
        return self.add(Step(kind="cut_stream", content=partial))

    def reset_connection(self, *, partial: str | Sequence[str] = "") -> Self:
        """A 200 whose connection is reset (TCP RST) mid-body: streamed, after the text
        `partial` (a string, or the exact deltas), with no finish chunk and no `[DONE]`."""
        if isinstance(partial, str):
            return self.add(Step(kind="reset", content=partial))
        return self.add(Step(kind="reset", deltas=tuple(partial)))

    def disconnect(self, *, times: int = 1) -> Self:
        """Close the connection without answering the next `times` chat requests."""
        for _ in range(times):
            self.add(Step(kind="disconnect"))
        return self

    def bad_body(self, body: str, *, content_type: str = "application/json") -> Self:
        """A 200 whose body is `body` as is (invalid JSON, an HTML page, `[]`, `null`)."""
        return self.add(Step(kind="bad_body", body=body, content_type=content_type))

    def trickle(
        self, text: str = ".", *, every: float = 0.1, duration: float | None = None
    ) -> Self:
        """The model emits `text` every `every` seconds for `duration` seconds (None: until the
        client goes away); a plain reply trickles JSON whitespace meanwhile."""
        return self.add(Step(kind="trickle", content=text, chunk_delay=every, duration=duration))

    def hang(self) -> Self:
        """Never answer the next chat request (until the client goes away or `stop()`)."""
        return self.add(Step(kind="hang"))

    # --- transcription steps ------------------------------------------------------------

    def add_transcription(self, *steps: Step) -> Self:
        """Queue steps for the next transcription requests, in order: `content` is the text;
        every kind answers as it does a plain chat request (e.g. `Step(kind="http_error",
        status=503, headers={"Retry-After": "1"})`, `Step(kind="hang")`)."""
        for step in steps:
            self._script.add_transcription(step)
        return self

    def transcribe_as(self, *texts: str, delay: float = 0.0) -> Self:
        """Queue what the next transcription requests answer, in order."""
        for text in texts:
            self.add_transcription(Step(content=text, delay=delay))
        return self

    def hang_transcription(self) -> Self:
        """Never answer the next transcription request."""
        return self.add_transcription(Step(kind="hang"))

    # --- inspection ---------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """The chat requests received, in order (rejected ones included; probes left out)."""
        return [r for r in self._script.records() if r.path == CHAT_PATH and not r.is_probe]

    @property
    def probes(self) -> list[RecordedRequest]:
        """The tool-calling probes received (`Agent.check_server`), answered without a step."""
        return [r for r in self._script.records() if r.is_probe]

    @property
    def transcriptions(self) -> list[RecordedRequest]:
        """The transcription requests received."""
        return [r for r in self._script.records() if r.path == TRANSCRIPTION_PATH]

    @property
    def all_requests(self) -> list[RecordedRequest]:
        """Every request received, in order."""
        return self._script.records()

    @property
    def rejected(self) -> list[RecordedRequest]:
        """The requests answered with a 4xx: a broken rule, or no scripted step for them."""
        return [r for r in self._script.records() if 400 <= r.status < 500]

    @property
    def pending(self) -> int:
        """Scripted chat steps not used yet."""
        return self._script.pending()

    @property
    def max_chats_in_flight(self) -> int:
        """The most chat requests that were being answered at once."""
        return self._script.max_in_flight(CHAT_PATH)

    @property
    def max_transcriptions_in_flight(self) -> int:
        """The most transcription requests that were being answered at once."""
        return self._script.max_in_flight(TRANSCRIPTION_PATH)

    def verify(self) -> None:
        """Raise `AssertionError` on unexpected requests, failed expectations, or scripted
        steps (chat or transcription) never used."""
        problems = self._script.problems()
        if problems:
            raise AssertionError(f"{type(self).__name__}: " + "; ".join(problems))
