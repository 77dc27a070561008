"""`Agent`: one voice conversation with Voxtral on vLLM, tools included."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx2
import openai

from agent._rules import RuleViolation, check_chat_request
from agent._tool_calls import ensure_valid_ids, may_become_tool_calls, split_tool_calls
from agent.client import ModelReply, ServerInfo, ToolCall, VoxtralClient
from agent.clips import AudioInput, Clip, load_clips_async
from agent.errors import InvalidRequestError
from agent.events import AgentEvent, EventHandler, ReplyText, ToolCallFinished, ToolCallStarted
from agent.history import History, TurnRecord, estimate_tokens
from agent.turn import Turn
from tools import Tool, Toolbox, ToolResult, parse_arguments

if TYPE_CHECKING:
    from os import PathLike

    import numpy as np

    from agent.audio import AudioSource

    ReplayInput = str | PathLike[str] | bytes | np.ndarray[Any, Any]

__all__ = ["Agent", "ToolChoice"]

ToolChoice = Literal["auto", "none", "required"] | str | dict[str, Any]
"""`"auto"`, `"none"`, `"required"`, a tool name, or an OpenAI named-function dict."""

_log = logging.getLogger("agent")
_T = TypeVar("_T")
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
        stream: stream replies (text deltas reach `on_event` as they come).
        state: the object tools receive as `ToolContext.state`.
        http_client: an `openai.AsyncOpenAI` or `httpx2.AsyncClient` to share between agents.
        transcribe_turns: transcribe each turn's audio (concurrently with the chat request) so
            the transcript can stand in for the audio in later requests.
        max_audio_items: the most audio items one request carries (1 to 5).
        language: the language hint for transcription (None: detected).
        reply_reserve: tokens kept free for the reply when trimming the history (default:
            `max_tokens`, else 1024).
        max_model_len: the context length; None asks the server.
        timeout: seconds for one attempt of one HTTP request.
        max_retries: retries per request after the first attempt (0 to 4).
        retry_backoff: seconds before the first retry, doubled each time.
    """

    def __init__(
        self,
        tools: Toolbox | Iterable[Tool[..., Any] | Callable[..., Any]] = (),
        *,
        base_url: str | None = None,
        model: str | None = None,
        instructions: str | None = None,
        api_key: str = "EMPTY",
        temperature: float = 0.2,
        top_p: float = 0.95,
        max_tokens: int | None = None,
        max_tool_rounds: int = 5,
        stream: bool = False,
        state: Any = None,
        http_client: openai.AsyncOpenAI | httpx2.AsyncClient | None = None,
        transcribe_turns: bool = True,
        max_audio_items: int = 5,
        language: str | None = None,
        reply_reserve: int | None = None,
        max_model_len: int | None = None,
        timeout: float = 120.0,
        max_retries: int = 4,
        retry_backoff: float = 0.5,
    ) -> None:
        if max_tool_rounds < 0:
            raise ValueError("max_tool_rounds must be 0 or more")
        self.toolbox = tools if isinstance(tools, Toolbox) else Toolbox(list(tools))
        self.model = model
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.max_tool_rounds = max_tool_rounds
        self.stream = stream
        self.state = state
        self.transcribe_turns = transcribe_turns
        self.language = language
        self.reply_reserve = (
            reply_reserve if reply_reserve is not None else max_tokens or _DEFAULT_REPLY_RESERVE
        )
        self.max_model_len = max_model_len
        self._history = History(instructions, max_audio_items=max_audio_items)
        self._client_options: dict[str, Any] = {
            "base_url": base_url,
            "api_key": api_key,
            "timeout": timeout,
            "max_retries": max_retries,
            "retry_backoff": retry_backoff,
            "http_client": http_client,
        }
        # Fails now (bad max_retries) rather than at the first turn.
        self._client: VoxtralClient | None = VoxtralClient(**self._client_options)
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._turn_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._server_checked = max_model_len is not None and model is not None

    # --- properties ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The server's API root."""
        return self._get_client().base_url

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
            return self._render(None)
        except InvalidRequestError:
            return self._history.render()

    @property
    def turns(self) -> int:
        """How many turns the conversation holds."""
        return len(self._history)

    def reset(self) -> None:
        """Forget the conversation (the instructions and tools stay)."""
        self._history.clear()

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
        """Close the HTTP connections the agent opened (not a shared client's)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._client_loop = None

    async def check_server(self, *, probe_tools: bool = True) -> ServerInfo:
        """Ask the server what it serves; raises `ServerUnavailableError` if it is down.

        With `probe_tools`, also checks that `tool_choice="auto"` is enabled (a one-token
        request); `info.tool_calling` is False, with vLLM's explanation, when it is not.
        """
        client = self._get_client()
        info = await client.server_info(self.model)
        self._remember(info)
        if not probe_tools:
            return info
        enabled, message = await client.probe_tool_calling(info.model)
        return dataclasses.replace(info, tool_calling=enabled, tool_calling_message=message)

    # --- turns --------------------------------------------------------------------------

    async def run(
        self,
        audio: AudioInput | None = None,
        *,
        text: str | None = None,
        sample_rate: int | None = None,
        tool_choice: ToolChoice = "auto",
        on_event: EventHandler | None = None,
    ) -> Turn:
        """Run one user turn: audio and/or text → model → tools → … → reply.

        Args:
            audio: one clip or a list of up to 5 (paths, WAV bytes, arrays, `Audio`,
                `Utterance`); converted to 16 kHz mono.
            text: text sent with the audio (or alone).
            sample_rate: the rate of numpy arrays in `audio` (default 16000).
            tool_choice: for the turn's first model call; `"auto"` once tools have run.
            on_event: gets `ToolCallStarted`, `ToolCallFinished` and `ReplyText` events.

        Raises:
            BadAudioError: the audio is unusable (before anything is sent).
            InvalidRequestError: the request would break Voxtral's rules.
            ServerUnavailableError, ServerError, RequestRejectedError: the server failed;
                the history is then as it was before the turn.
        """
        started = time.perf_counter()
        clips = await load_clips_async(audio, sample_rate=sample_rate) if audio is not None else []
        if not clips and not (text and text.strip()):
            raise ValueError("run() needs audio= or a non-empty text=")
        self._history.check_clip_count(len(clips))
        choice = self._tool_choice(tool_choice)
        async with self._lock():
            client = self._get_client()
            await self._ensure_server_facts(client)
            record = TurnRecord(index=len(self._history), clips=clips, text=text)
            transcription = None
            if clips and self.transcribe_turns:
                transcription = asyncio.ensure_future(self._transcribe_clips(client, clips))
            try:
                turn = await self._converse(client, record, choice, on_event, started)
            except BaseException:
                if transcription is not None:
                    transcription.cancel()
                raise
            turn.timings.total = time.perf_counter() - started
            if transcription is not None:
                record.transcripts, turn.timings.transcription = await transcription
                turn.transcript = record.transcript
            self._history.commit(record)
            return turn

    def run_sync(
        self,
        audio: AudioInput | None = None,
        *,
        text: str | None = None,
        sample_rate: int | None = None,
        tool_choice: ToolChoice = "auto",
        on_event: EventHandler | None = None,
    ) -> Turn:
        """`run` for scripts: runs its own event loop (not from inside a running loop)."""
        return self._sync(
            self.run(
                audio, text=text, sample_rate=sample_rate, tool_choice=tool_choice,
                on_event=on_event,
            ),
            "run_sync",
        )  # fmt: skip

    async def transcribe(self, audio: AudioInput, *, language: str | None = None) -> str:
        """The transcript of one clip (Voxtral's transcription mode); language optional."""
        clips = await load_clips_async(audio)
        if len(clips) != 1:
            raise ValueError(f"transcribe() takes one clip, got {len(clips)}")
        clip = clips[0]
        client = self._get_client()
        await self._ensure_server_facts(client)
        assert self.model is not None
        return await client.transcribe(
            clip.wav(), model=self.model, language=language or self.language
        )

    def transcribe_sync(self, audio: AudioInput, *, language: str | None = None) -> str:
        """`transcribe` for scripts."""
        return self._sync(self.transcribe(audio, language=language), "transcribe_sync")

    def listen(self, source: AudioSource, **options: Any) -> AsyncIterator[AgentEvent]:
        """Hear `source` turn after turn and yield events; see `agent.listening.listen`."""
        from agent.listening import listen

        return listen(self, source, **options)

    async def replay_async(self, audio: ReplayInput, **options: Any) -> list[Turn]:
        """Every utterance of a recording as one turn; see `agent.listening.replay_async`."""
        from agent.listening import replay_async

        return await replay_async(self, audio, **options)

    def replay(self, audio: ReplayInput, **options: Any) -> list[Turn]:
        """`replay_async` for scripts (not from inside a running event loop)."""
        return self._sync(self.replay_async(audio, **options), "replay")

    # --- the tool loop ------------------------------------------------------------------

    async def _converse(
        self,
        client: VoxtralClient,
        record: TurnRecord,
        choice: str | dict[str, Any],
        on_event: EventHandler | None,
        started: float,
    ) -> Turn:
        turn = Turn(
            index=record.index,
            user_text=record.text,
            audio_seconds=sum(clip.duration for clip in record.clips),
        )
        tools = self.toolbox.schemas()
        rounds_run = 0
        while True:
            reply = await self._call_model(client, record, tools, choice, on_event)
            turn.rounds += 1
            turn.usage.add(reply.prompt_tokens, reply.completion_tokens)
            turn.timings.model += reply.duration
            turn.finish_reason = reply.finish_reason
            if turn.timings.time_to_first_token is None and reply.time_to_first_token is not None:
                request_started = time.perf_counter() - reply.duration
                turn.timings.time_to_first_token = (
                    request_started - started + reply.time_to_first_token
                )
            calls = reply.tool_calls
            content = reply.content
            if not calls and content:
                content, recovered = split_tool_calls(content)
                if recovered is not None:
                    _log.warning("recovered %d tool call(s) left in the reply text", len(recovered))
                    calls = recovered
            if not calls:
                turn.text = content
                if content.strip():
                    record.replies.append({"role": "assistant", "content": content})
                return turn
            calls = ensure_valid_ids(calls)
            record.replies.append(
                {
                    "role": "assistant",
                    "content": content or None,
                    "tool_calls": [call.to_openai() for call in calls],
                }
            )
            if rounds_run >= self.max_tool_rounds:
                note = (
                    f"(Stopped: this turn reached its limit of {self.max_tool_rounds} tool "
                    "rounds, so the last tool calls were not run.)"
                )
                _log.warning(
                    "turn %d reached max_tool_rounds=%d; %d call(s) not run",
                    record.index, self.max_tool_rounds, len(calls),
                )  # fmt: skip
                for call in calls:
                    record.replies.append(
                        {"role": "tool", "tool_call_id": call.id, "content": note}
                    )
                turn.text = f"{content.strip()}\n{note}".strip()
                turn.hit_tool_round_limit = True
                return turn
            tools_started = time.perf_counter()
            results = await self._run_tools(calls, on_event)
            turn.timings.tools += time.perf_counter() - tools_started
            turn.tool_results.extend(results)
            for call, result in zip(calls, results, strict=True):
                record.replies.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "content": result.content or "(no output)",
                    }
                )
            rounds_run += 1
            choice = "auto"

    async def _call_model(
        self,
        client: VoxtralClient,
        record: TurnRecord,
        tools: list[dict[str, Any]],
        choice: str | dict[str, Any],
        on_event: EventHandler | None,
    ) -> ModelReply:
        messages = self._render(record, tools)
        try:
            check_chat_request(messages, tools or None, max_audio_items=self.max_audio_items)
        except RuleViolation as error:
            raise InvalidRequestError(
                f"the request would be refused by Voxtral's tokenizer: {error}"
            ) from error
        sampling: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p}
        if self.max_tokens is not None:
            sampling["max_tokens"] = self.max_tokens

        gate = _ReplyTextGate(on_event) if on_event is not None else None
        assert self.model is not None
        reply = await client.chat(
            model=self.model,
            messages=messages,
            tools=tools or None,
            tool_choice=choice if tools else None,
            stream=self.stream,
            on_text=gate.feed if gate is not None and self.stream else None,
            **sampling,
        )
        if gate is not None:
            await gate.finish(reply)
        return reply

    def _render(
        self, record: TurnRecord | None, tools: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The messages for a request: audio policy, then the token budget."""
        if tools is None:
            tools = self.toolbox.schemas()
        budget = None
        if self.max_model_len is not None:
            budget = self.max_model_len - self.reply_reserve
        return self._history.render(
            record,
            token_budget=budget,
            fixed_tokens=estimate_tokens(json.dumps(tools)) if tools else 0,
        )

    async def _run_tools(
        self, calls: Sequence[ToolCall], on_event: EventHandler | None
    ) -> list[ToolResult]:
        # No agent state: the toolbox's own `state` applies.
        state = {} if self.state is None else {"state": self.state}

        async def run_one(call: ToolCall) -> ToolResult:
            if on_event is not None:
                await _emit(on_event, ToolCallStarted(call.id, call.name, _parse(call.arguments)))
            try:
                result = await self.toolbox.call(
                    call.name, call.arguments, call_id=call.id, **state
                )
            except Exception as error:  # the toolbox should not raise; never let it kill a turn
                _log.exception("toolbox failed on %s", call.name)
                result = ToolResult(
                    ok=False,
                    content=f"Error: {call.name} failed: {error}",
                    error=str(error),
                    name=call.name,
                    arguments=_parse(call.arguments),
                    call_id=call.id,
                    error_kind="exception",
                )
            if on_event is not None:
                await _emit(on_event, ToolCallFinished(result))
            return result

        return list(await asyncio.gather(*(run_one(call) for call in calls)))

    # --- helpers ------------------------------------------------------------------------

    async def _transcribe_clips(
        self, client: VoxtralClient, clips: Sequence[Clip]
    ) -> tuple[list[str] | None, float | None]:
        """Transcripts of the clips; None (and a warning) if transcription failed."""
        started = time.perf_counter()
        assert self.model is not None
        model = self.model
        try:
            texts = await asyncio.gather(
                *(
                    client.transcribe(clip.wav(), model=model, language=self.language)
                    for clip in clips
                )
            )
        except Exception as error:
            _log.warning("transcription failed (%s); the turn keeps a text stand-in", error)
            return None, time.perf_counter() - started
        return list(texts), time.perf_counter() - started

    def _tool_choice(self, choice: ToolChoice) -> str | dict[str, Any]:
        if isinstance(choice, dict):
            name = choice.get("function", {}).get("name")
            if name not in self.toolbox.names:
                raise ValueError(f"tool_choice names {name!r}, which is not one of the tools")
            return choice
        if choice in ("auto", "none", "required"):
            if choice == "required" and not self.toolbox.names:
                raise ValueError('tool_choice="required" needs at least one tool')
            return choice
        if choice in self.toolbox.names:
            return {"type": "function", "function": {"name": choice}}
        raise ValueError(
            f"tool_choice must be 'auto', 'none', 'required' or a tool name "
            f"({', '.join(self.toolbox.names) or 'no tools'}), got {choice!r}"
        )

    def _get_client(self) -> VoxtralClient:
        """The client, re-created when a new event loop runs (each `run_sync` has its own)."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._client is None or (
            loop is not None
            and self._client_loop is not None
            and loop is not self._client_loop
            and self._client_options["http_client"] is None
        ):
            self._client = VoxtralClient(**self._client_options)
            self._client_loop = None
        if loop is not None and self._client_loop is None:
            self._client_loop = loop
        return self._client

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._turn_lock is None or self._turn_lock[0] is not loop:
            self._turn_lock = (loop, asyncio.Lock())
        return self._turn_lock[1]

    async def _ensure_server_facts(self, client: VoxtralClient) -> None:
        if self._server_checked:
            return
        self._remember(await client.server_info(self.model))

    def _remember(self, info: ServerInfo) -> None:
        self.model = info.model
        if self.max_model_len is None:
            self.max_model_len = info.max_model_len
        self._server_checked = True

    def _sync(self, coroutine: Coroutine[Any, Any, _T], name: str) -> _T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coroutine.close()
            raise RuntimeError(
                f"{name}() cannot run inside a running event loop; use "
                f"`await agent.{_async_name(name)}(...)` there instead"
            )

        async def with_cleanup() -> _T:
            try:
                return await coroutine
            finally:
                if self._client_options["http_client"] is None:
                    await self.aclose()  # its connections belong to the loop that ends here

        return asyncio.run(with_cleanup())


class _ReplyTextGate:
    """Passes reply text to the event handler, holding back text that may be a tool-call list.

    When the server's parser fails, the calls arrive as plain text (`[TOOL_CALLS][{"name": ...`
    or `[{"name": ...`, maybe after some words); that must not reach a UI or a speech
    synthesiser. Text up to a `[` goes out at once; from a `[` that may start a call list, it
    waits for the end of the reply and goes out only if it is not one.
    """

    def __init__(self, handler: EventHandler) -> None:
        self._handler = handler
        self._held = ""
        self._fed = False

    async def feed(self, delta: str) -> None:
        """One streamed delta."""
        self._fed = True
        text = self._held + delta
        while text:
            bracket = text.find("[")
            if bracket < 0:
                ready, text = text, ""
            elif bracket > 0:
                ready, text = text[:bracket], text[bracket:]
            elif may_become_tool_calls(text):
                break
            else:  # a `[` that starts no call list ("[laughs]"): up to the next one goes out
                following = text.find("[", 1)
                cut = following if following > 0 else len(text)
                ready, text = text[:cut], text[cut:]
            await _emit(self._handler, ReplyText(ready))
        self._held = text

    async def finish(self, reply: ModelReply) -> None:
        """The reply is complete: send what was held (or the whole text when not streamed)."""
        if not self._fed and reply.content:
            await self.feed(reply.content)
        held, self._held = self._held, ""
        if held and split_tool_calls(held)[1] is None:
            await _emit(self._handler, ReplyText(held))


async def _emit(handler: EventHandler, event: AgentEvent) -> None:
    """Deliver one event; a failing handler is logged, never fatal to the turn."""
    try:
        result = handler(event)
        if inspect.isawaitable(result):
            await result
    except Exception:
        _log.exception("event handler failed on %s", type(event).__name__)


def _parse(arguments: str) -> dict[str, Any]:
    """The call's arguments as the toolbox reads them, `{}` when they are not an object."""
    parsed = parse_arguments(arguments)
    return parsed if isinstance(parsed, dict) else {}


def _async_name(name: str) -> str:
    return name.removesuffix("_sync") if name.endswith("_sync") else f"{name}_async"
