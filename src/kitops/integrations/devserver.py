"""The process ``kit dev start`` leaves running (``python -m kitops.integrations.devserver``).

It runs the model server (llama-cpp-python or llama.cpp's ``llama-server``) on a free loopback
port and, in front of it on the requested host and port, a small HTTP server of ours: ``/`` is
the chat page (``devui/index.html``) and ``/v1/...`` is forwarded to the backend. Page and API
thus share one origin (no CORS), and the page is the same whichever backend runs.

Once the backend answers ``/v1/models``, the state file gets this process's pid, the URL and the
backend's pid: that is what ``kit dev start`` waits for. SIGINT or SIGTERM end the backend, then
this process; so does the backend dying. Its stdout and stderr are the server log.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from types import FrameType

from kitops.fsutil import atomic_write
from kitops.integrations.dev import backend_command

# headers that describe one connection, not the message: never forwarded either way
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host"}
)
_MAX_BODY = 16 << 20  # a chat request is a few KiB; anything this large is refused, not buffered
_BACKEND_TIMEOUT = 600.0  # one answer of a slow model on a CPU may take minutes
_PAGE_CSP = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'"


def chat_page() -> bytes:
    """The chat page shipped in the package."""
    return resources.files("kitops.integrations").joinpath("devui/index.html").read_bytes()


class FrontServer(ThreadingHTTPServer):
    """The chat page and the forwarding of the API to ``backend_port`` on the loopback."""

    daemon_threads = True  # a stream in progress does not hold up the shutdown

    def __init__(self, host: str, port: int, page: bytes) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        self.page = page
        self.backend_port = 0


class _Handler(BaseHTTPRequestHandler):
    server: FrontServer
    # HTTP/1.0: a response without Content-Length ends when the connection closes, so a streamed
    # answer (server-sent events) is passed on as it comes, without re-chunking it
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        if urllib.parse.urlsplit(self.path).path in ("/", "/index.html"):  # the query is the page's
            self._send(
                200, self.server.page, "text/html; charset=utf-8", {"Content-Security-Policy": _PAGE_CSP}
            )
        elif self._is_api():
            self._forward()
        else:
            self._send(404, b'{"error":"not found"}', "application/json")

    def do_POST(self) -> None:
        if self._is_api():
            self._forward()
        else:
            self._send(404, b'{"error":"not found"}', "application/json")

    def _is_api(self) -> bool:
        return self.path.startswith("/v1/") or self.path in ("/v1", "/health")

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _forward(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self._send(413, b'{"error":"request body too large"}', "application/json")
            return
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        conn = http.client.HTTPConnection("127.0.0.1", self.server.backend_port, timeout=_BACKEND_TIMEOUT)
        answered = False
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            answered = True
            self.send_response(resp.status, resp.reason)
            for name, value in resp.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.end_headers()
            while chunk := resp.read1(1 << 16):
                self.wfile.write(chunk)
                self.wfile.flush()
        except OSError as exc:
            if not answered:  # once the backend's status line went out, closing is all that is left
                with contextlib.suppress(OSError):  # the client may be gone too
                    message = json.dumps({"error": f"model server: {exc}"}).encode()
                    self._send(502, message, "application/json")
        finally:
            conn.close()


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_backend(proc: subprocess.Popen[bytes], port: int, timeout: float, stop: threading.Event) -> bool:
    """Poll the backend's ``/v1/models`` until it answers 200; False if it exits, time runs out or
    a stop is asked for."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/v1/models"
    while time.monotonic() < deadline and not stop.is_set():
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        stop.wait(0.25)
    return False


def end_backend(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def display_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run(model: Path, host: str, port: int, backend: str, state: Path, timeout: float) -> int:
    """Serve until stopped; the exit status."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # bind first: a port in use fails at once, not after the model has loaded
    front = FrontServer(host, port, chat_page())
    front.backend_port = free_loopback_port()
    argv = backend_command(backend, model, "127.0.0.1", front.backend_port)
    print(f"kit dev: starting {backend}: {shlex.join(argv)}", flush=True)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        if not wait_for_backend(proc, front.backend_port, timeout, stop):
            if stop.is_set():
                return 0  # stopped while the model was loading
            print("kit dev: the model server did not come up", file=sys.stderr, flush=True)
            return 1
        url = display_url(host, front.server_address[1])
        record = {
            "pid": os.getpid(),
            "backend_pid": proc.pid,
            "url": url,
            "model": str(model),
            "backend": backend,
        }
        atomic_write(state, json.dumps(record).encode())
        print(f"kit dev: serving {model} at {url}", flush=True)
        thread = threading.Thread(target=front.serve_forever, name="kit-dev-front", daemon=True)
        thread.start()
        while not stop.wait(0.5):
            if proc.poll() is not None:
                print(
                    f"kit dev: the model server exited with status {proc.returncode}",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
        front.shutdown()
        return 0
    finally:
        end_backend(proc)
        front.server_close()
        print("kit dev: stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kitops.integrations.devserver")
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--backend", required=True, choices=("llama-cpp-python", "llama-server"))
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    return run(args.model, args.host, args.port, args.backend, args.state, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
