"""A stand-in for `vllm` in tests: `fake_vllm.py serve MODEL ... --host H --port P`.

It records its command line in $FAKE_VLLM_RECORD (JSON), then behaves as $FAKE_VLLM_MODE says:
`ok` (default) serves /health and /v1/models after $FAKE_VLLM_DELAY seconds; `crash` prints an
error and exits with status 3. On SIGINT or SIGTERM it appends the signal's name and exits;
`stubborn` appends the name and goes on serving (only SIGKILL ends it), and starts a "worker"
child in its process group; the pids of both go to $FAKE_VLLM_RECORD.pids.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RECORD = Path(os.environ["FAKE_VLLM_RECORD"])


def _option(argv: list[str], name: str, default: str) -> str:
    return argv[argv.index(name) + 1] if name in argv else default


class _Handler(BaseHTTPRequestHandler):
    served_name = "voxtral"

    def do_GET(self) -> None:
        if self.path == "/health":
            body = b""
        elif self.path == "/v1/models":
            models = {"data": [{"id": self.served_name, "max_model_len": 32768}]}
            body = json.dumps(models).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print("request:", format % args, flush=True)


STUBBORN = os.environ.get("FAKE_VLLM_MODE") == "stubborn"


def _stop(signum: int, frame: object) -> None:
    with RECORD.open("a") as record:
        record.write(f"\n{signal.Signals(signum).name}\n")
    if not STUBBORN:
        os._exit(0)


def main() -> None:
    argv = sys.argv[1:]
    RECORD.write_text(json.dumps(argv))
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print("INFO fake vLLM starting", flush=True)
    if os.environ.get("FAKE_VLLM_MODE") == "crash":
        print("ERROR CUDA out of memory (fake)", flush=True)
        sys.exit(3)
    if STUBBORN:
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        Path(f"{RECORD}.pids").write_text(f"{os.getpid()} {worker.pid}")
    time.sleep(float(os.environ.get("FAKE_VLLM_DELAY", "0.5")))
    _Handler.served_name = _option(argv, "--served-model-name", "voxtral")
    port = int(_option(argv, "--port", "8000"))
    server = ThreadingHTTPServer((_option(argv, "--host", "127.0.0.1"), port), _Handler)
    print(f"INFO Application startup complete on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
