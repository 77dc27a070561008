"""`VoxtralClient` under faults: unusable bodies, cut streams, deadlines, Retry-After, causes."""

import time

import pytest

from agent import ServerError, ServerUnavailableError, StreamError, VoxtralClient
from agent.testing import ScriptedServer

HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def client(scripted_server: ScriptedServer):
    made = VoxtralClient(scripted_server.base_url, retry_backoff=0.001)
    yield made
    await made.aclose()


async def chat(client: VoxtralClient, **options):
    return await client.chat(model="voxtral-scripted", messages=MESSAGES, **options)


# --- a 200 with an unusable body (issue 8, 1.2) -------------------------------------------


@pytest.mark.parametrize("body", ["{not json", HTML, "[]", "null", '"text"', '{"choices": 3}'])
@pytest.mark.parametrize("stream", [False, True])
async def test_an_unusable_200_is_a_server_error_naming_the_url_and_retried(
    scripted_server, client, body, stream
) -> None:
    scripted_server.bad_body(body, content_type="text/html" if body == HTML else "application/json")
    scripted_server.reply("Hello.")
    reply = await chat(client, stream=stream)
    assert reply.content == "Hello."
    assert len(scripted_server.requests) == 2


async def test_an_unusable_200_every_time_fails_with_the_url(scripted_server) -> None:
    client = VoxtralClient(scripted_server.base_url, max_retries=1, retry_backoff=0.001)
    scripted_server.bad_body(HTML, content_type="text/html").bad_body("[]")
    with pytest.raises(ServerError) as raised:
        await chat(client)
    await client.aclose()
    message = str(raised.value)
    assert scripted_server.base_url in message
    assert "unusable body" in message and "2 attempts" in message
    assert not isinstance(raised.value, StreamError)


@pytest.fixture
def static_server():
    """A real HTTP server on 127.0.0.1 answering every GET with one fixed 200 body."""
    import http.server
    import threading

    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(bodies[0])))
            self.end_headers()
            self.wfile.write(bodies[0])

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(body: str) -> str:
        bodies[:] = [body.encode()]
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield serve
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("body", ["{", "[]", "null", HTML, '{"data": "x"}', '{"data": [1]}'])
async def test_an_unusable_model_list_is_a_server_error(static_server, body) -> None:
    client = VoxtralClient(static_server(body), max_retries=1, retry_backoff=0.001)
    with pytest.raises(ServerError, match="unusable body"):
        await client.server_info()
    await client.aclose()


# --- text already delivered is never replayed (issue 8, 1.3) -------------------------------


async def test_a_stream_reset_after_text_reached_the_caller_is_not_retried(
    scripted_server, client
) -> None:
    scripted_server.reset_connection(partial=["Hello ", "wor"])
    heard: list[str] = []
    with pytest.raises(StreamError) as raised:
        await chat(client, stream=True, on_text=heard.append)
    assert "".join(heard) == "Hello wor"  # not "Hello worHello world."
    assert raised.value.received == "Hello wor"
    assert "cannot reach" not in str(raised.value)
    assert "not retried" in str(raised.value)
    assert len(scripted_server.requests) == 1


async def test_a_stream_cut_before_any_text_is_retried(scripted_server, client) -> None:
    scripted_server.reset_connection().cut_stream().reply("Hello world.")
    heard: list[str] = []
    reply = await chat(client, stream=True, on_text=heard.append)
    assert "".join(heard) == reply.content == "Hello world."
    assert len(scripted_server.requests) == 3


async def test_a_clean_cut_after_text_is_not_retried_either(scripted_server, client) -> None:
    scripted_server.cut_stream(partial="Hello")
    heard: list[str] = []
    with pytest.raises(StreamError) as raised:
        await chat(client, stream=True, on_text=heard.append)
    assert "".join(heard) == raised.value.received == "Hello"
    assert len(scripted_server.requests) == 1


async def test_without_a_listener_a_cut_stream_is_retried(scripted_server, client) -> None:
    scripted_server.reset_connection(partial="Hello ").reply("Hello world.")
    reply = await chat(client, stream=True)
    assert reply.content == "Hello world."


# --- `timeout` bounds one whole attempt (issue 8, 1.4) -----------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_a_trickling_answer_ends_at_the_deadline(scripted_server, stream) -> None:
    client = VoxtralClient(scripted_server.base_url, timeout=1.0, max_retries=0)
    scripted_server.trickle(".", every=0.05)
    began = time.monotonic()
    with pytest.raises((ServerUnavailableError, StreamError)) as raised:
        await chat(client, stream=stream)
    elapsed = time.monotonic() - began
    await client.aclose()
    assert elapsed < 6.0  # the trickle never ends by itself
    if isinstance(raised.value, ServerUnavailableError):
        assert "timed out" in str(raised.value)


async def test_a_hung_request_times_out_per_attempt_and_is_retried(scripted_server) -> None:
    client = VoxtralClient(scripted_server.base_url, timeout=0.5, max_retries=1,
                           retry_backoff=0.001)  # fmt: skip
    scripted_server.hang().reply("late but fine")
    reply = await chat(client)
    await client.aclose()
    assert reply.content == "late but fine"


# --- Retry-After (issue 8, 2.11) ---------------------------------------------------------


async def test_retry_after_is_waited_for(scripted_server, client) -> None:
    scripted_server.fail(429, "busy", headers={"Retry-After": "1"}).reply("ok")
    began = time.monotonic()
    reply = await chat(client)
    assert reply.content == "ok"
    assert time.monotonic() - began >= 0.9  # backoff alone would be 1 ms


async def test_a_retry_after_too_long_fails_at_once_and_says_so(scripted_server, client) -> None:
    scripted_server.fail(503, "down for maintenance", headers={"Retry-After": "3600"})
    with pytest.raises(ServerError, match="retry after 3600 s"):
        await chat(client)
    assert len(scripted_server.requests) == 1


# --- the cause of an unreachable server is named (issue 8, 2.9) ---------------------------


async def test_an_unresolvable_host_names_the_cause() -> None:
    client = VoxtralClient("http://no-such-host.invalid:8000/v1", max_retries=0)
    with pytest.raises(ServerUnavailableError) as raised:
        await client.list_models()
    await client.aclose()
    message = str(raised.value).lower()
    assert "no-such-host.invalid" in message
    assert any(
        words in message
        for words in (
            "name or service not known",
            "not known",
            "nodename nor servname",
            "name resolution",
        )
    )


async def test_https_to_a_plain_http_server_names_tls(scripted_server) -> None:
    url = scripted_server.base_url.replace("http://", "https://")
    client = VoxtralClient(url, max_retries=0)
    with pytest.raises(ServerUnavailableError) as raised:
        await client.list_models()
    await client.aclose()
    message = str(raised.value)
    assert "SSL" in message or "TLS" in message or "ssl" in message


async def test_transcribing_bytes_that_are_no_audio_is_a_bad_audio_error() -> None:
    from agent.client import VoxtralClient
    from agent.errors import BadAudioError

    client = VoxtralClient("http://127.0.0.1:9")  # never reached: the audio is checked first
    try:
        with pytest.raises(BadAudioError, match=r"cannot be read.*encode_wav"):
            await client.transcribe(b"junk", model="voxtral")
    finally:
        await client.aclose()
