"""The fault steps of `ScriptedServer` at the HTTP level (httpx2, as the client uses it)."""

import json
import threading
import time

import httpx2
import pytest

from agent.clips import load_clip
from agent.testing import ScriptedServer, Step, tone

WAV = load_clip(tone(1.5), sample_rate=16000).wav()
HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"


def _body(**extra) -> dict:
    return {"model": "voxtral-scripted", "messages": [{"role": "user", "content": "hi"}], **extra}


def _chat(server: ScriptedServer, **extra) -> httpx2.Response:
    return httpx2.post(f"{server.base_url}/chat/completions", json=_body(**extra), timeout=30)


def _transcribe(server: ScriptedServer, timeout: float = 30, **fields) -> httpx2.Response:
    return httpx2.post(
        f"{server.base_url}/audio/transcriptions",
        files={"file": ("a.wav", WAV, "audio/wav")},
        data={"model": server.model, **fields},
        timeout=timeout,
    )


def _sse_lines(response: httpx2.Response) -> list[str]:
    return [line for line in response.text.split("\n\n") if line]


def _delta_texts(lines: list[str]) -> list[str]:
    texts = []
    for line in lines:
        if line == "data: [DONE]":
            continue
        event = json.loads(line.removeprefix("data: "))
        for choice in event.get("choices", []):
            if choice["delta"].get("content"):
                texts.append(choice["delta"]["content"])
    return texts


def _wait_for_connections_to_end() -> None:
    """Waits (bounded) until no connection thread of any scripted server is left."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not [t for t in threading.enumerate() if t.name == "ScriptedServer-connection"]:
            return
        time.sleep(0.02)
    raise AssertionError("a ScriptedServer connection thread outlived its client")


# --- a 200 whose body is unusable ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"choices": [', "application/json"),
        (HTML, "text/html; charset=utf-8"),
        ("[]", "application/json"),
        ("null", "application/json"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_a_bad_body_is_sent_as_is_with_its_type(body: str, content_type: str, stream) -> None:
    with ScriptedServer() as server:
        server.bad_body(body, content_type=content_type)
        response = _chat(server, stream=stream)
        assert server.requests[0].status == 200
    assert response.status_code == 200
    assert response.text == body
    assert response.headers["content-type"] == content_type


def test_a_bad_body_step_needs_its_body() -> None:
    with pytest.raises(ValueError, match="body="):
        Step(kind="bad_body")


# --- HTTP errors with headers -------------------------------------------------------------


def test_an_http_error_carries_its_headers() -> None:
    with ScriptedServer() as server:
        server.fail(429, "Too many requests", headers={"Retry-After": "2"})
        response = _chat(server)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json() == {
        "error": {
            "message": "Too many requests",
            "type": "RateLimitError",
            "param": None,
            "code": 429,
        }
    }


def test_an_http_error_can_have_a_raw_body() -> None:
    with ScriptedServer() as server:
        server.add(Step(kind="http_error", status=502, body=HTML, content_type="text/html"))
        response = _chat(server, stream=True)
    assert response.status_code == 502
    assert response.text == HTML and response.headers["content-type"] == "text/html"


def test_headers_come_with_a_reply_too() -> None:
    with ScriptedServer() as server:
        server.add(Step(content="hi", headers={"x-request-id": "abc"}))
        response = _chat(server, stream=True)
    assert response.headers["x-request-id"] == "abc"
    assert _delta_texts(_sse_lines(response)) == ["hi"]


# --- streams cut cleanly or reset ---------------------------------------------------------


def test_cut_stream_ends_the_body_cleanly_without_finish_or_done() -> None:
    with ScriptedServer() as server:
        server.cut_stream(partial="Hello world")
        response = _chat(server, stream=True)  # reads the whole body: no transport error
    lines = _sse_lines(response)
    assert "data: [DONE]" not in lines
    assert "".join(_delta_texts(lines)) == "Hello world"
    assert all(json.loads(line[6:])["choices"][0]["finish_reason"] is None for line in lines)


def test_reset_sends_the_deltas_then_resets_the_connection() -> None:
    received: list[str] = []
    with ScriptedServer() as server:
        server.reset_connection(partial=["Hello ", "wor"])
        url = f"{server.base_url}/chat/completions"
        with (
            pytest.raises(httpx2.TransportError),
            httpx2.stream("POST", url, json=_body(stream=True)) as response,
        ):
            assert response.status_code == 200
            received.extend(line for line in response.iter_lines() if line)
        assert server.requests[0].error == "connection reset mid-body"
    assert _delta_texts(received) == ["Hello ", "wor"]
    assert "data: [DONE]" not in received


def test_reset_of_a_plain_reply_breaks_its_body() -> None:
    with ScriptedServer() as server:
        server.reset_connection(partial="Hello world")
        with pytest.raises(httpx2.TransportError):
            _chat(server)


def test_deltas_give_the_exact_streamed_pieces() -> None:
    with ScriptedServer() as server:
        server.add(Step(deltas=("He", "llo", " there")))
        streamed = _delta_texts(_sse_lines(_chat(server, stream=True)))
        server.add(Step(deltas=("He", "llo")))
        plain = _chat(server).json()["choices"][0]["message"]["content"]
    assert streamed == ["He", "llo", " there"]
    assert plain == "Hello"


def test_content_and_deltas_must_agree() -> None:
    with pytest.raises(ValueError, match="content"):
        Step(content="abc", deltas=("x",))


# --- trickles and hangs ---------------------------------------------------------------------


def test_a_trickle_streams_deltas_for_its_duration_then_finishes() -> None:
    with ScriptedServer() as server:
        server.trickle("la ", every=0.02, duration=0.2)
        lines = _sse_lines(_chat(server, stream=True, stream_options={"include_usage": True}))
    texts = _delta_texts(lines)
    assert texts and set(texts) == {"la "}
    assert lines[-1] == "data: [DONE]"
    finish = json.loads(lines[-3][6:])["choices"][0]
    assert finish["finish_reason"] == "stop"
    assert json.loads(lines[-2][6:])["usage"]["completion_tokens"] >= 1


def test_a_plain_trickle_sends_whitespace_then_the_whole_reply() -> None:
    with ScriptedServer() as server:
        server.trickle("la", every=0.02, duration=0.2)
        response = _chat(server)
    assert response.text.startswith(" ")
    content = response.json()["choices"][0]["message"]["content"]
    assert content and set(content) == {"l", "a"} and len(content) % 2 == 0


def test_an_endless_trickle_ends_when_the_client_goes_away() -> None:
    with ScriptedServer() as server:
        server.trickle(every=0.01)
        with httpx2.stream(
            "POST", f"{server.base_url}/chat/completions", json=_body(stream=True)
        ) as response:
            seen = [line for _, line in zip(range(6), response.iter_lines(), strict=False)]
        assert len(seen) == 6
        _wait_for_connections_to_end()


def test_a_trickle_needs_a_period() -> None:
    with pytest.raises(ValueError, match="chunk_delay"):
        Step(kind="trickle")


def test_a_hang_ends_when_the_client_gives_up() -> None:
    with ScriptedServer() as server:
        server.hang()
        with pytest.raises(httpx2.ReadTimeout):
            httpx2.post(f"{server.base_url}/chat/completions", json=_body(), timeout=0.2)
        assert server.requests[0].status == 0
        _wait_for_connections_to_end()


def test_stop_ends_hung_trickling_and_delayed_steps() -> None:
    server = ScriptedServer().start()
    server.hang().trickle(every=0.05).reply("late", delay=float("inf")).hang_transcription()
    outcomes: list[object] = []

    def call(send) -> None:
        try:
            outcomes.append(send())
        except httpx2.HTTPError as error:
            outcomes.append(error)

    senders = [lambda: _chat(server), lambda: _chat(server, stream=True), lambda: _chat(server)]
    senders.append(lambda: _transcribe(server))
    threads = [threading.Thread(target=call, args=(send,), daemon=True) for send in senders]
    for thread in threads:
        thread.start()
    while len(server.all_requests) < 4:
        time.sleep(0.01)
    server.stop()
    for thread in threads:
        thread.join(10)
    assert len(outcomes) == 4
    assert not [t for t in threading.enumerate() if t.name == "ScriptedServer-connection"]


# --- transcriptions -----------------------------------------------------------------------


def test_transcriptions_take_their_steps_in_order() -> None:
    with ScriptedServer(transcript="default") as server:
        server.transcribe_as("one", "two", delay=0.01)
        server.add_transcription(
            Step(kind="http_error", status=503, message="busy", headers={"Retry-After": "1"}),
            Step(kind="bad_body", body=HTML, content_type="text/html"),
        )
        texts = [_transcribe(server).json()["text"] for _ in range(2)]
        failed = _transcribe(server)
        html = _transcribe(server)
        plain = _transcribe(server, response_format="text")
    assert texts == ["one", "two"]
    assert failed.status_code == 503 and failed.headers["retry-after"] == "1"
    assert failed.json()["error"]["message"] == "busy"
    assert html.text == HTML
    assert plain.text == "default"


def test_a_hung_transcription_ends_when_the_client_gives_up() -> None:
    with ScriptedServer() as server:
        server.hang_transcription()
        with pytest.raises(httpx2.ReadTimeout):
            _transcribe(server, timeout=0.2)
        _wait_for_connections_to_end()


def test_a_transcriber_answers_by_the_audio() -> None:
    short, long = (
        load_clip(tone(0.5), sample_rate=16000).wav(),
        load_clip(tone(2.5), sample_rate=16000).wav(),
    )

    def by_length(request) -> str:
        return "short" if len(request.body["file"]) < 40000 else "long"

    with ScriptedServer(transcriber=by_length) as server:
        url = f"{server.base_url}/audio/transcriptions"
        answers = [
            httpx2.post(
                url, files={"file": ("a.wav", wav, "audio/wav")}, data={"model": server.model}
            ).json()["text"]
            for wav in (long, short)
        ]
    assert answers == ["long", "short"]


def test_transcriptions_in_flight_at_once_are_counted() -> None:
    together = threading.Barrier(3, timeout=20)

    def meet(request) -> None:
        together.wait()  # each request waits here until all three are in flight

    with ScriptedServer() as server:
        for text in ("a", "b", "c"):
            server.add_transcription(Step(content=text, expect=meet))
        results: list[str] = []
        threads = [
            threading.Thread(target=lambda: results.append(_transcribe(server).json()["text"]))
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == ["a", "b", "c"]
        assert server.max_transcriptions_in_flight == 3
        assert server.max_chats_in_flight == 0
