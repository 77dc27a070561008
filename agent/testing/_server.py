"""`ScriptedServer`: a real HTTP server on loopback that answers like vLLM serving Voxtral."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Unpack

from agent.testing._http import LoopbackServer, make_handler
from agent.testing._script import ScriptOptions
from agent.testing._scripting import Scripting

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

    Keywords (`ScriptOptions`): `model`, `max_model_len`, `max_audio_items`, `tool_calling`
    (False: `tool_choice="auto"` gets vLLM's 400), `transcript` (what an unscripted
    transcription answers), `responder` and `transcriber` (answer what the queued steps do
    not cover).
    """

    def __init__(self, **options: Unpack[ScriptOptions]) -> None:
        super().__init__(**options)
        self._httpd: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

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
