"""`ScriptedServer`: a real HTTP server on loopback that answers like vLLM serving Voxtral."""

from __future__ import annotations

import threading
from types import TracebackType

from agent.clips import MAX_AUDIO_ITEMS
from agent.testing._http import LoopbackServer, make_handler
from agent.testing._script import Responder, Script, Transcriber
from agent.testing._scripting import Scripting
from agent.testing._vllm import VllmRules

__all__ = ["ScriptedServer"]


class ScriptedServer(Scripting):
    """A loopback HTTP server speaking vLLM's OpenAI API, with scripted model replies.

    Each `/v1/chat/completions` request takes the next scripted step (`reply`,
    `reply_tool_call`, `fail`, ...) and is answered exactly as vLLM would (streamed or not).
    Every chat request is first checked with the same mistral-common calls a real server
    makes; a request Voxtral would refuse gets vLLM's 400 body. `/health`, `/v1/models` and
    `/v1/audio/transcriptions` answer too (transcriptions take their own steps:
    `transcribe_as`, `add_transcription`, ...). Requests are recorded (`requests`), and
    `verify()` fails on unexpected requests and unused steps.

    The tool-calling probe of `Agent.check_server` (and of every `voxagent` command) is
    answered by the server itself, as vLLM does, without taking a step: an empty reply, or,
    with `tool_calling=False`, vLLM's 400. It is recorded in `probes`, not in `requests`.

    Use it as a context manager (`with ScriptedServer() as server:`), or through the
    `scripted_server` pytest fixture; it runs in a thread, so sync code and subprocesses can
    use `server.base_url` too. `stop()` ends every connection, also those whose step still
    waits, hangs or trickles.

    Args:
        model: the served model name.
        max_model_len: the context length `/v1/models` reports.
        max_audio_items: vLLM's `--limit-mm-per-prompt` audio limit.
        tool_calling: False answers `tool_choice="auto"` with the 400 vLLM gives without
            `--enable-auto-tool-choice`.
        transcript: what a transcription answers when no step is queued for it.
        responder: answers the chat requests the queued steps do not cover (a function of the
            request returning a `Step`), for tests and benchmarks where many agents share one
            server; without it such a request gets a 400 (not retried) and `verify()` reports it.
        transcriber: answers the transcriptions the queued steps do not cover (a function of
            the request, its audio in `body["file"]`, returning a `Step` or the text), for
            transcriptions sent at once whose order of arrival is not theirs.
    """

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
        rules = VllmRules(model, max_model_len, max_audio_items, tool_calling)
        self._script = Script(
            rules, transcript=transcript, responder=responder, transcriber=transcriber
        )
        self._httpd: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def model(self) -> str:
        """The served model name."""
        return self._script.rules.model

    @property
    def max_model_len(self) -> int:
        """The context length `/v1/models` reports."""
        return self._script.rules.max_model_len

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        """Listen on a free port of 127.0.0.1 (in a background thread)."""
        if self._httpd is not None:
            return self
        self._httpd = LoopbackServer(("127.0.0.1", 0), make_handler(self._script))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # stop() waits up to one poll interval
            name="ScriptedServer",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and end every open connection and its thread (idempotent).

        A step still waiting out its `delay`, hanging or trickling is not answered further.
        """
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        if exc_type is None:
            self.verify()

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._httpd is None:
            raise RuntimeError("the ScriptedServer is not started; use `with` or start()")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The API root to give an agent: `http://127.0.0.1:<port>/v1`."""
        return f"http://127.0.0.1:{self.port}/v1"
