"""The socket side of `ScriptedServer`: a threading loopback server, and the handler that
carries out a request's wire plan (`agent.testing._plan`) on the connection."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.testing._plan import CLOSE, END, RESET, Action, Data, Head, Pause, answer
from agent.testing._script import Script

__all__ = ["LoopbackServer", "make_handler"]

_POLL = 0.05
"""Seconds between looks at the stop flag and the client while a step waits."""


class LoopbackServer(ThreadingHTTPServer):
    """Knows its open connections, so `close_connections` can end them and their threads
    (keep-alive connections and waiting steps would otherwise outlive `ScriptedServer.stop`)."""

    request_queue_size = 256  # many agents connecting at once must not be refused
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.stopping = threading.Event()
        self._open: dict[threading.Thread, socket.socket] = {}
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="ScriptedServer-connection",
            daemon=True,
        )
        with self._open_lock:
            self._open[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(threading.current_thread(), None)

    def close_connections(self, timeout: float) -> None:
        """Wake waiting steps, shut every open connection, and wait for their threads."""
        self.stopping.set()
        with self._open_lock:
            open_now = list(self._open.items())
        for _, connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread, _ in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))


def make_handler(script: Script) -> type[BaseHTTPRequestHandler]:
    """A handler class answering from `script`."""
    return type("_BoundHandler", (_Handler,), {"script": script})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else delayed ACKs add 40 ms to every answer
    script: Script
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `ScriptedServer.requests` instead."""

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            # The client went away mid-upload (a cancelled request): nothing was asked, so
            # nothing is recorded or answered, as a real server drops such a connection.
            self.close_connection = True
            return
        self._serve(raw)

    def _serve(self, raw: bytes) -> None:
        path = self.path.split("?", 1)[0]
        plan = answer(self.script, self.command, path, self.headers.get("Content-Type", ""), raw)
        chunked = False
        try:
            for action in plan:
                if isinstance(action, Head):
                    chunked = action.length is None
                if not self._do(action, chunked):
                    self.close_connection = True
                    return
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            plan.close()  # the request is no longer in flight

    def _do(self, action: Action, chunked: bool) -> bool:
        """Carry out one action; False when the connection is done with."""
        if isinstance(action, Pause):
            return self._pause(action.seconds)
        if isinstance(action, Head):
            self._head(action)
        elif isinstance(action, Data):
            self.wfile.write(_chunk(action.data) if chunked else action.data)
        elif action is END:
            if chunked:
                self.wfile.write(_chunk(b""))
        elif action is CLOSE:
            self.connection.close()
            return False
        elif action is RESET:
            self._reset()
            return False
        return True

    def _head(self, head: Head) -> None:
        self.send_response(head.status)
        if head.content_type is not None:
            self.send_header("content-type", head.content_type)
        for name, value in head.headers.items():
            self.send_header(name, value)
        if head.length is None:
            self.send_header("transfer-encoding", "chunked")
        else:
            self.send_header("content-length", str(head.length))
        self.end_headers()

    def _pause(self, seconds: float) -> bool:
        """Wait `seconds` (`math.inf`: until the client goes away); False when the server
        stops or the client leaves meanwhile."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.server.stopping.wait(min(left, _POLL)) or self._client_gone():
                return False
        return True

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _reset(self) -> None:
        """End the connection with a TCP RST (SO_LINGER 0), as a crashed proxy does."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


def _chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (b"" is the last one)."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"
