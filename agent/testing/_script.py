"""The script of a scripted vLLM: the queued steps, what each request takes, what was received.

`Script` is the state that `ScriptedServer` (over HTTP) and `ScriptedBackend` (in process)
share: both ask it what to answer (`take_chat`, `take_transcription`: the vLLM rules first,
then the next step) and record through it, so the two answer a script the same way.
`Scripting` gives both the same methods to write the script with.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypedDict

from agent._probe import is_tool_calling_probe
from agent.clips import MAX_AUDIO_ITEMS
from agent.testing._steps import RecordedRequest, Step
from agent.testing._vllm import Rejection, VllmRules

__all__ = [
    "CHAT_PATH",
    "TRANSCRIPTION_PATH",
    "Responder",
    "Script",
    "ScriptOptions",
    "Transcriber",
    "describe",
]

CHAT_PATH = "/v1/chat/completions"
TRANSCRIPTION_PATH = "/v1/audio/transcriptions"

_SCRIPT_ERROR = 400
"""The status of an answer to an unscripted request or a failed `expect`: a client does not
retry it, so the test fails at once with the script's message."""

Responder = Callable[[RecordedRequest], Step]
Transcriber = Callable[[RecordedRequest], "Step | str"]


class ScriptOptions(TypedDict, total=False):
    """What the scripted vLLM serves and how it answers what is not scripted; both
    `ScriptedServer` and `ScriptedBackend` take these keywords.

    Attributes:
        model: the served model name (default `voxtral-scripted`).
        max_model_len: the context length (default 32768).
        max_audio_items: vLLM's `--limit-mm-per-prompt` audio limit (default 5).
        tool_calling: False answers `tool_choice="auto"` (and the probe) with the 400 vLLM
            gives without `--enable-auto-tool-choice` (default True).
        transcript: what a transcription answers when no step is queued for it (default "").
        responder: answers the chat requests the queued steps do not cover (a function of the
            request returning a `Step`), for tests and benchmarks where many agents share one
            server; without it such a request gets a 400 (not retried) and `verify()` fails.
        transcriber: answers the transcriptions the queued steps do not cover (a function of
            the request, its audio in `body["file"]`, returning a `Step` or the text), e.g. for
            pieces transcribed at once whose order of arrival is not theirs.
    """

    model: str
    max_model_len: int
    max_audio_items: int
    tool_calling: bool
    transcript: str
    responder: Responder | None
    transcriber: Transcriber | None


class Script:
    """The steps, the records and the problems of one scripted vLLM (thread-safe); the
    keywords are `ScriptOptions`."""

    def __init__(
        self,
        *,
        model: str = "voxtral-scripted",
        max_model_len: int = 32768,
        max_audio_items: int = MAX_AUDIO_ITEMS,
        tool_calling: bool = True,
        transcript: str = "",
        responder: Responder | None = None,
        transcriber: Transcriber | None = None,
    ) -> None:
        self.rules = VllmRules(model, max_model_len, max_audio_items, tool_calling)
        self.transcript = transcript
        self.responder = responder
        self.transcriber = transcriber
        self._chat_steps: deque[Step] = deque()
        self._transcription_steps: deque[Step] = deque()
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []
        self._problems: list[str] = []
        self._in_flight: dict[str, int] = {}
        self._max_in_flight: dict[str, int] = {}

    # --- writing ------------------------------------------------------------------------

    def add_chat(self, step: Step) -> None:
        with self._lock:
            self._chat_steps.append(step)

    def add_transcription(self, step: Step) -> None:
        with self._lock:
            self._transcription_steps.append(step)

    # --- answering ----------------------------------------------------------------------

    def take_chat(self, path: str, body: dict[str, Any]) -> Step | Rejection:
        """What answers a chat request: vLLM's rejection, the probe's answer (an empty reply,
        no step taken), or the next step (recorded with the outcome it decides)."""
        rejection = self.rules.check_chat(body)
        if rejection is None and is_tool_calling_probe(body):
            self.record(RecordedRequest(path, body))
            return Step()
        if rejection is None:
            return self._take(path, body, self._next_chat_step(path, body), "chat")
        self.record(RecordedRequest(path, body, rejection.status, rejection.message))
        return rejection

    def take_transcription(
        self, path: str, fields: dict[str, str], audio: bytes | None
    ) -> Step | Rejection:
        """What answers a transcription upload: vLLM's rejection or the next step."""
        body: dict[str, Any] = {**fields, "file": audio}
        rejection = self.rules.check_transcription(fields, audio)
        if rejection is None:
            return self._take(
                path, body, self._next_transcription_step(path, body), "transcription"
            )
        self.record(RecordedRequest(path, body, rejection.status, rejection.message))
        return rejection

    def _take(
        self, path: str, body: dict[str, Any], step: Step | None, what: str
    ) -> Step | Rejection:
        if step is None:
            count = len([r for r in self.records() if r.path == path and not r.is_probe]) + 1
            return self._fail(
                path,
                body,
                f"no scripted reply left for {what} request #{count} (script more steps)",
            )
        record = RecordedRequest(path, body)
        if step.expect is not None:
            try:
                step.expect(record)
            except AssertionError as error:
                return self._fail(path, body, f"expectation failed on {what} request: {error}")
        # Recorded on arrival (with the outcome the step decides), so a test can see a request
        # whose answer is still delayed.
        self.record(RecordedRequest(path, body, *step.outcome(bool(body.get("stream")))))
        return step

    def _fail(self, path: str, body: dict[str, Any], problem: str) -> Rejection:
        message = f"scripted vLLM: {problem}"
        with self._lock:
            self._problems.append(problem)
        self.record(RecordedRequest(path, body, _SCRIPT_ERROR, message))
        return Rejection(_SCRIPT_ERROR, message)

    def _next_chat_step(self, path: str, body: dict[str, Any]) -> Step | None:
        with self._lock:
            step = self._chat_steps.popleft() if self._chat_steps else None
        if step is None and self.responder is not None:
            step = self.responder(RecordedRequest(path, body))
        return step

    def _next_transcription_step(self, path: str, body: dict[str, Any]) -> Step:
        with self._lock:
            step = self._transcription_steps.popleft() if self._transcription_steps else None
        if step is None and self.transcriber is not None:
            answer = self.transcriber(RecordedRequest(path, body))
            step = answer if isinstance(answer, Step) else Step(content=answer)
        return step or Step(content=self.transcript)

    # --- records ------------------------------------------------------------------------

    def record(self, record: RecordedRequest) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    @contextmanager
    def in_flight(self, path: str) -> Iterator[None]:
        """Count a request as being answered (for `max_in_flight`)."""
        with self._lock:
            now = self._in_flight.get(path, 0) + 1
            self._in_flight[path] = now
            self._max_in_flight[path] = max(now, self._max_in_flight.get(path, 0))
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[path] -= 1

    def max_in_flight(self, path: str) -> int:
        with self._lock:
            return self._max_in_flight.get(path, 0)

    def pending(self) -> int:
        with self._lock:
            return len(self._chat_steps)

    def problems(self) -> list[str]:
        """Unexpected requests, failed expectations, and steps never used."""
        with self._lock:
            problems = list(self._problems)
            for what, steps in (
                ("", self._chat_steps),
                (" transcription", self._transcription_steps),
            ):
                if steps:
                    unused = ", ".join(describe(step) for step in steps)
                    problems.append(f"{len(steps)} scripted{what} step(s) never used: {unused}")
        return problems


def describe(step: Step) -> str:
    """A step in a few words (for `verify()`'s message)."""
    if step.kind != "reply":
        return f"{step.kind}({step.status if step.kind == 'http_error' else step.message!r})"
    if step.tool_calls:
        return "tool_calls(" + ", ".join(call.name for call in step.tool_calls) + ")"
    return f"reply({step.content!r})"
