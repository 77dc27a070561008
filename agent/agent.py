"""`Agent`: the configuration of a voice agent plus its one conversation."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Unpack, cast

from agent._backend_per_loop import BackendPerLoop
from agent.backend import Backend, ModelReply, ServerInfo
from agent.clips import AudioInput, ClipSource
from agent.conversation import Conversation
from agent.errors import InvalidRequestError
from agent.history import History, TurnRecord
from agent.limits import MAX_AUDIO_ITEMS
from agent.long_audio import (
    DEFAULT_MAX_IN_FLIGHT,
    ProgressHook,
    Recording,
    Transcript,
    load_turn_clips_async,
    plan_transcription,
    transcribe_recording,
)
from agent.tool_choice import ToolChoice, resolve_tool_choice
from agent.turn import Turn
from agent.turn_loop import TurnPlan, request_reply
from tools import MCPServer, Tool, Toolbox
from tools._sync import run_sync
from tools._threads import run_blocking

if TYPE_CHECKING:
    from os import PathLike

    import httpx2
    import numpy as np
    import openai

    from agent.audio import AudioSource, Utterance
    from agent.events import AgentEvent, EventHandler
    from agent.listening import ListenOptions, ReplayOptions
    from agent.speculation import Speculation, TextSink

    ReplayInput = str | PathLike[str] | bytes | np.ndarray[Any, Any]

__all__ = ["Agent", "ToolChoice"]

_DEFAULT_REPLY_RESERVE = 1024


class Agent:
    """One conversation with a Voxtral model served by vLLM: speech in, tool calls, reply out.

    Args:
        tools: `Tool` objects or plain functions, or a ready `Toolbox`.
        base_url: the server's API root (default `$VOXAGENT_BASE_URL`, else
            `http://127.0.0.1:8000/v1`).
        model: the served model name; None uses the first one `/v1/models` lists.
        instructions: how the agent should behave; sent as user text at the start of every
            request (Voxtral refuses a system prompt next to audio).
        api_key: bearer token for the server.
        temperature, top_p: sampling (the model card recommends 0.2 and 0.95 for chat).
        max_tokens: the most tokens per reply (None: the server's default).
        max_tool_rounds: the most rounds of tool calls in one turn; past it the turn ends with
            a note in `turn.text`.
        tool_choice: the default for each turn's first model call (`"auto"`, `"none"`,
            `"required"` or a tool name); `auto` once tools have run. Checked now, or at the
            first turn when MCP servers have yet to list their tools.
        stream: stream replies (text deltas reach `on_event` as they come).
        state: the object tools receive as `ToolContext.state`.
        client: any `Backend` to talk to instead of a vLLM server over HTTP (for example
            `agent.testing.ScriptedBackend`); then `base_url`, `api_key`, `http_client`,
            `timeout` and the retry options are the backend's business.
        http_client: an `openai.AsyncOpenAI` or `httpx2.AsyncClient` to share between agents.
        transcribe_turns: transcribe each turn's audio in the background, so the transcript
            can stand in for the audio in later requests (it never delays a reply).
        max_audio_items: the most audio items one request carries (1 to 5).
        language: the language hint for transcription (None: detected).
        reply_reserve: tokens kept free for the reply when trimming the history (default:
            `max_tokens`, else 1024).
        max_model_len: the context length; None asks the server.
        timeout: seconds for one attempt of one request: connecting and the whole answer.
        turn_timeout: seconds for a whole turn, model calls and tools together (None: no
            bound); past it the turn raises `TurnTimeoutError`.
        max_retries: retries per request after the first attempt (0 to 4).
        retry_backoff: seconds before the first retry, doubled each time.
    """

    def __init__(
        self,
        tools: Toolbox | Iterable[Tool[..., Any] | Callable[..., Any] | MCPServer] = (),
        *,
        base_url: str | None = None,
        model: str | None = None,
        instructions: str | None = None,
        api_key: str = "EMPTY",
        temperature: float = 0.2,
        top_p: float = 0.95,
        max_tokens: int | None = None,
        max_tool_rounds: int = 5,
        tool_choice: ToolChoice = "auto",
        stream: bool = False,
        state: Any = None,
        client: Backend | None = None,
        http_client: openai.AsyncOpenAI | httpx2.AsyncClient | None = None,
        transcribe_turns: bool = True,
        max_audio_items: int = MAX_AUDIO_ITEMS,
        language: str | None = None,
        reply_reserve: int | None = None,
        max_model_len: int | None = None,
        timeout: float = 120.0,
        turn_timeout: float | None = 600.0,
        max_retries: int = 4,
        retry_backoff: float = 0.5,
    ) -> None:
        if max_tool_rounds < 0:
            raise ValueError("max_tool_rounds must be 0 or more")
        self.toolbox = tools if isinstance(tools, Toolbox) else Toolbox(list(tools))
        if all(server.started for server in self.toolbox.servers):
            resolve_tool_choice(tool_choice, self.toolbox.names)  # fails now, not at a turn
        # else MCP servers have yet to list their tools: the first turn checks the name
        self.tool_choice = tool_choice
        self.model = model
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.max_tool_rounds = max_tool_rounds
        self.stream = stream
        self.state = state
        self.reply_reserve = (
            reply_reserve if reply_reserve is not None else max_tokens or _DEFAULT_REPLY_RESERVE
        )
        self.max_model_len = max_model_len
        self.transcribe_turns = transcribe_turns
        self.language = language
        self.turn_timeout = turn_timeout
        self._history = History(instructions, max_audio_items=max_audio_items)
        self._conversation = Conversation(self._history)
        self._backends = _backends(client, base_url, api_key, timeout, max_retries,
                                   retry_backoff, http_client)  # fmt: skip
        self._server_checked = max_model_len is not None and model is not None

    # --- the conversation ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The server's API root (or the in-process backend's name)."""
        return self._backends.peek().base_url

    @property
    def instructions(self) -> str | None:
        """The agent's instructions (sent as user text)."""
        return self._history.instructions

    @instructions.setter
    def instructions(self, value: str | None) -> None:
        self._history.instructions = value

    @property
    def max_audio_items(self) -> int:
        """The most audio items one request carries."""
        return self._history.max_audio_items

    @property
    def history(self) -> list[dict[str, Any]]:
        """The conversation as the next request will send it (OpenAI messages).

        The instructions come first (as user text), then the past turns; the audio policy and
        the token budget apply, as for a request; the base64 audio of the newest turns is
        included. Empty (`[]`) until the first turn and after `reset()`.
        """
        if not self._history:
            return []
        try:
            return self._render(None, self.toolbox.schemas())
        except InvalidRequestError:
            return self._history.render()

    @property
    def turns(self) -> int:
        """How many turns the conversation holds."""
        return len(self._history)

    def reset(self) -> None:
        """Forget the conversation (the instructions and tools stay)."""
        self._history.clear()

    async def wait_for_transcripts(self) -> None:
        """Until the background transcripts of the turns so far have come (or failed).

        Each turn's transcript is made beside it and lands on `turn.transcript` (and in the
        history) when it comes; nothing waits for it unless asked to, here.
        """
        await self._conversation.transcripts.wait()

    def wait_for_transcripts_sync(self) -> None:
        """`wait_for_transcripts` for scripts (after `run_sync` or `replay`)."""
        waiting = self.wait_for_transcripts()
        run_sync(
            waiting, what="Agent.wait_for_transcripts_sync()",
            instead="await agent.wait_for_transcripts()",
        )  # fmt: skip

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Agent:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop background transcripts; close the connections the agent opened (not a
        shared client's, nor a backend passed as `client=`)."""
        await self._conversation.transcripts.cancel()
        await self.toolbox.aclose()
        await self._backends.aclose()

    async def check_server(self, *, probe_tools: bool = True) -> ServerInfo:
        """Ask the server what it serves; raises `ServerUnavailableError` if it is down.

        With `probe_tools`, also checks that `tool_choice="auto"` is enabled (a one-token
        request); `info.tool_calling` is False, with vLLM's explanation, when it is not.
        """
        backend = self._backends.get()
        info = await backend.server_info(self.model)
        self._remember(info)
        if not probe_tools:
            return info
        enabled, message = await backend.probe_tool_calling(info.model)
        return dataclasses.replace(info, tool_calling=enabled, tool_calling_message=message)

    # --- turns --------------------------------------------------------------------------

    async def run(
        self,
        audio: AudioInput | None = None,
        *,
        text: str | None = None,
        sample_rate: int | None = None,
        tool_choice: ToolChoice | None = None,
        on_event: EventHandler | None = None,
        speculation: Speculation | None = None,
    ) -> Turn:
        """Run one user turn: audio and/or text → model → tools → … → reply.

        Args:
            audio: one clip or a list of up to 5 (paths, WAV bytes, arrays, `Audio`,
                `Utterance`); converted to 16 kHz mono. A clip over one item's limit (600 s)
                is cut at pauses into several items of this turn (5 items at most in all).
            text: text sent with the audio (or alone).
            sample_rate: the rate of numpy arrays in `audio` (required for arrays).
            tool_choice: for the turn's first model call (default: the agent's
                `tool_choice`); `"auto"` once tools have run.
            on_event: gets `ToolCallStarted`, `ToolCallFinished` and `ReplyText` events.
            speculation: the turn's request, started early by `speculate`: its audio is the
                turn's (when `audio` is None) and its reply is adopted as the first model
                call's, unless the conversation changed since it was made or `tool_choice`
                differs (then it is cancelled and a new request is sent).

        Raises:
            BadAudioError: the audio is unusable, or too long for the server (before anything
                is sent).
            InvalidRequestError: the request would break Voxtral's rules.
            ServerUnavailableError, ServerError, RequestRejectedError: the server failed.
            TurnTimeoutError: the turn ran past `turn_timeout`.
            The history is then as it was before the turn, unless tools ran: a turn whose
            side effects happened is recorded (marked interrupted), also when cancelled.
        """
        started = time.perf_counter()
        if speculation is not None:
            if audio is None and text is None:
                audio, sample_rate = speculation.utterance, None
            tool_choice = speculation.tool_choice if tool_choice is None else tool_choice
            if tool_choice != speculation.tool_choice:
                speculation.cancel()
                speculation = None
        await self.toolbox.start(max_model_len=self.max_model_len)
        clips = (
            await load_turn_clips_async(
                audio, sample_rate=sample_rate, max_items=self.max_audio_items
            )
            if audio is not None
            else []
        )
        if not clips and not (text and text.strip()):
            raise ValueError("run() needs audio= or a non-empty text=")
        self._history.check_clip_count(len(clips))
        choice = resolve_tool_choice(
            self.tool_choice if tool_choice is None else tool_choice, self.toolbox.names
        )
        async with self._conversation.lock():
            if speculation is not None and speculation.version != self._history.version:
                speculation.cancel()  # made on a conversation that has changed since
                speculation = None
            backend = self._backends.get()
            await self._ensure_server_facts(backend)
            turn = await self._conversation.run_turn(
                self._plan(choice, speculation), backend, clips, text, on_event,
                turn_timeout=self.turn_timeout,
                transcribe=self.transcribe_turns, language=self.language,
            )  # fmt: skip
            turn.timings.total = time.perf_counter() - started
            return turn

    def run_sync(
        self,
        audio: AudioInput | None = None,
        *,
        text: str | None = None,
        sample_rate: int | None = None,
        tool_choice: ToolChoice | None = None,
        on_event: EventHandler | None = None,
    ) -> Turn:
        """`run` for scripts (not from inside a running event loop)."""
        turn = self.run(
            audio, text=text, sample_rate=sample_rate, tool_choice=tool_choice, on_event=on_event
        )
        return run_sync(turn, what="Agent.run_sync()", instead="await agent.run(...)")

    async def transcribe(
        self,
        audio: AudioInput,
        *,
        language: str | None = None,
        sample_rate: int | None = None,
        max_piece_seconds: float | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        on_progress: ProgressHook | None = None,
        shorten_pauses: bool = True,
    ) -> Transcript:
        """The transcript of one recording of any length (Voxtral's transcription mode).

        A recording longer than one piece streams from disk and is cut at pauses into pieces
        (at most `max_piece_seconds`, default 300 s, shortened to what the server's context
        holds), transcribed `max_in_flight` at a time and joined in order; each piece is
        retried on its own if its request fails. Pauses over 1 s inside a piece are shortened
        in the audio sent (`shorten_pauses=False` keeps them: a segment then spans no more
        than `max_piece_seconds` of the recording, as subtitles want).

        Returns:
            a `Transcript`: the text (it is a `str`), with `segments` (start and end on the
            recording's timeline, one per piece) and `language`.

        Raises:
            BadAudioError: the audio is unusable.
            PieceFailedError: a piece failed after its retries (its time range named).
        """
        if isinstance(audio, list | tuple):
            if len(audio) != 1:
                raise ValueError(f"transcribe() takes one clip, got {len(audio)}")
            audio = audio[0]
        source = cast("ClipSource", audio)
        recording = await run_blocking(lambda: Recording(source, sample_rate=sample_rate))
        backend = self._backends.get()
        await self._ensure_server_facts(backend)
        assert self.model is not None
        limit, pieces = plan_transcription(
            recording, self.max_model_len, max_piece_seconds=max_piece_seconds,
            shorten_pauses=shorten_pauses,
        )  # fmt: skip
        return await transcribe_recording(
            backend, recording, model=self.model, language=language or self.language,
            max_piece_seconds=limit, max_in_flight=max_in_flight, on_progress=on_progress,
            pieces=pieces,
        )  # fmt: skip

    def transcribe_sync(
        self,
        audio: AudioInput,
        *,
        language: str | None = None,
        sample_rate: int | None = None,
        max_piece_seconds: float | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        on_progress: ProgressHook | None = None,
        shorten_pauses: bool = True,
    ) -> Transcript:
        """`transcribe` for scripts."""
        transcript = self.transcribe(
            audio, language=language, sample_rate=sample_rate,
            max_piece_seconds=max_piece_seconds, max_in_flight=max_in_flight,
            on_progress=on_progress, shorten_pauses=shorten_pauses,
        )  # fmt: skip
        return run_sync(
            transcript, what="Agent.transcribe_sync()", instead="await agent.transcribe(...)"
        )

    # --- listening ----------------------------------------------------------------------

    def listen(
        self, source: AudioSource, **options: Unpack[ListenOptions]
    ) -> AsyncIterator[AgentEvent]:
        """Hear `source` turn after turn and yield events; with `voice` and `speaker`, speak
        the replies (barge-in unless `barge_in=False`; `echo` cleans the microphone). The
        options are `agent.listening.listen`'s."""
        from agent.listening import listen

        return listen(self, source, **options)

    async def replay_async(
        self, audio: ReplayInput, **options: Unpack[ReplayOptions]
    ) -> list[Turn]:
        """Every utterance of a recording as one turn (spoken with `voice` on `speaker`, as
        `listen`); the options are `agent.listening.replay_async`'s."""
        from agent.listening import replay_async

        return await replay_async(self, audio, **options)

    def replay(self, audio: ReplayInput, **options: Unpack[ReplayOptions]) -> list[Turn]:
        """`replay_async` for scripts (not from inside a running event loop)."""
        turns = self.replay_async(audio, **options)
        return run_sync(turns, what="Agent.replay()", instead="await agent.replay_async(...)")

    # --- inside a turn ------------------------------------------------------------------

    def speculate(
        self,
        utterance: Utterance,
        *,
        tool_choice: ToolChoice | None = None,
        style: str | None = None,
    ) -> Speculation:
        """Start the model request for a turn not committed yet (see `agent.speculation`).

        Call it in a running event loop; the request runs beside whatever runs now, holds
        its streamed text back and runs no tool. Then `run(speculation=...)` adopts it, or
        `Speculation.cancel()` drops it. `style`: the spoken-style instruction, when the
        reply will be spoken (the listening loop's `SPOKEN_STYLE`).
        """
        from agent.speculation import Speculation

        def request(on_text: TextSink) -> Coroutine[Any, Any, ModelReply]:
            return self._speculative_reply(utterance, tool_choice, style, on_text)

        return Speculation(
            utterance, request, tool_choice=tool_choice, style=style, version=self._history.version
        )

    async def _speculative_reply(
        self,
        utterance: Utterance,
        tool_choice: ToolChoice | None,
        style: str | None,
        on_text: TextSink,
    ) -> ModelReply:
        await self.toolbox.start(max_model_len=self.max_model_len)
        clips = await load_turn_clips_async(utterance, max_items=self.max_audio_items)
        choice = resolve_tool_choice(
            self.tool_choice if tool_choice is None else tool_choice, self.toolbox.names
        )
        backend = self._backends.get()
        await self._ensure_server_facts(backend)
        record = TurnRecord(index=len(self._history), clips=list(clips), text=None)
        plan = self._plan(choice)
        return await request_reply(
            plan, backend, record, choice, on_text if plan.stream else None, style
        )

    def _plan(
        self, choice: str | dict[str, Any], speculation: Speculation | None = None
    ) -> TurnPlan:
        sampling: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p}
        if self.max_tokens is not None:
            sampling["max_tokens"] = self.max_tokens
        assert self.model is not None
        return TurnPlan(
            model=self.model,
            toolbox=self.toolbox,
            tools=self.toolbox.schemas(),
            tool_choice=choice,
            max_tool_rounds=self.max_tool_rounds,
            stream=self.stream,
            sampling=sampling,
            # No agent state: the toolbox's own `state` applies.
            state={} if self.state is None else {"state": self.state},
            render=self._render,
            max_audio_items=self.max_audio_items,
            speculation=speculation,
        )

    def _render(
        self, record: TurnRecord | None, tools: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        return self._conversation.render(
            record, tools, max_model_len=self.max_model_len, reply_reserve=self.reply_reserve
        )

    async def _ensure_server_facts(self, backend: Backend) -> None:
        if not self._server_checked:
            self._remember(await backend.server_info(self.model))

    def _remember(self, info: ServerInfo) -> None:
        self.model = info.model
        if self.max_model_len is None:
            self.max_model_len = info.max_model_len
        self._server_checked = True


def _backends(
    client: Backend | None,
    base_url: str | None,
    api_key: str,
    timeout: float,
    max_retries: int,
    retry_backoff: float,
    http_client: openai.AsyncOpenAI | httpx2.AsyncClient | None,
) -> BackendPerLoop:
    """The agent's backend: the one given, else a `VoxtralClient` per event loop."""
    from agent.client import VoxtralClient

    def make() -> Backend:
        return VoxtralClient(
            base_url, api_key=api_key, timeout=timeout, max_retries=max_retries,
            retry_backoff=retry_backoff, http_client=http_client,
        )  # fmt: skip

    if client is not None:
        return BackendPerLoop(make, given=client)
    first = make()  # fails now (bad max_retries) rather than at the first turn
    if http_client is not None:  # a shared client lives on its own loop: never re-made
        return BackendPerLoop(make, given=first)
    return BackendPerLoop(make, first=first)
