"""A fault-injecting HTTP relay to put in front of the real registry.

Each request is matched against the rules set with :meth:`FaultProxy.set`; the first rule whose
predicate matches decides what happens to that request: answered with an error status (5xx,
429, optionally with a huge body), relayed with its answer cut after N bytes (a dropped
connection), relayed slowly (a throttled body), or relayed with a lying ``Content-Length``. A
rule can apply to its first ``times`` matches only, so "fails once, then works" is easy to say.

One request per connection (``Connection: close`` both ways): simple to relay exactly, and the
client under test opens a new connection per request, which is what a retry does anyway.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Fault:
    status: int | None = None  # answer this instead of relaying
    body_size: int = 0  # of the error answer (sent in 1 MiB pieces; no Content-Length when huge)
    headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None  # relay this many bytes of the answer (head included), then close
    rate: int | None = None  # relay the answer at this many bytes per second
    content_length: int | None = None  # rewrite the answer's Content-Length to this
    times: int | None = None  # apply to the first N matching requests only


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    fault: Fault | None


Predicate = Callable[[str, str], bool]


def matching(method: str | None = None, path: str | None = None) -> Predicate:
    """A predicate on the method and a regular expression searched in the path."""
    pattern = re.compile(path) if path else None
    return lambda m, p: (method is None or m == method) and (pattern is None or bool(pattern.search(p)))


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self._upstream = (host, int(port))
        self._rules: list[tuple[Predicate, Fault, list[int]]] = []
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.host = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def set(self, *rules: tuple[Predicate, Fault]) -> None:
        """Replace the rules (and forget what was seen)."""
        with self._lock:
            self._rules = [(pred, fault, [0]) for pred, fault in rules]
            self.seen = []

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.close()

    # -- relaying ---------------------------------------------------------------------------------
    def _pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for pred, fault, used in self._rules:
                if pred(method, path) and (fault.times is None or used[0] < fault.times):
                    used[0] += 1
                    return fault
            return None

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            with client:
                head, rest = _read_head(client)
                if head is None:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
                }
                fault = self._pick(method, target)
                with self._lock:
                    self.seen.append(Seen(method, target, headers, fault))
                length = int(headers.get("content-length") or 0)
                body = rest
                while len(body) < length:
                    data = client.recv(1 << 20)
                    if not data:
                        return
                    body += data
                if fault is not None and fault.status is not None:
                    self._answer(client, fault)
                    return
                self._relay(client, lines, body, fault)
        except OSError:
            pass

    def _answer(self, client: socket.socket, fault: Fault) -> None:
        reason = {
            429: "Too Many Requests",
            500: "Internal Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
            401: "Unauthorized",
            413: "Payload Too Large",
        }.get(fault.status or 0, "Error")
        hdrs = dict(fault.headers)
        hdrs["Connection"] = "close"
        if fault.body_size <= (1 << 20):
            hdrs["Content-Length"] = str(fault.body_size)
        client.sendall(
            (
                f"HTTP/1.1 {fault.status} {reason}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
                + "\r\n"
            ).encode("latin-1")
        )
        left = fault.body_size
        block = b"x" * (1 << 20)
        while left > 0:
            piece = block[: min(left, len(block))]
            client.sendall(piece)
            left -= len(piece)

    def _relay(self, client: socket.socket, lines: list[str], body: bytes, fault: Fault | None) -> None:
        request_lines = [ln for ln in lines if not ln.lower().startswith("connection:")] + [
            "Connection: close"
        ]
        with socket.create_connection(self._upstream) as upstream:
            upstream.sendall(("\r\n".join(request_lines) + "\r\n\r\n").encode("latin-1") + body)
            head, rest = _read_head(upstream)
            if head is None:
                return
            if fault is not None and fault.content_length is not None:
                head = re.sub(
                    rb"(?im)^content-length:[^\r\n]*",
                    f"Content-Length: {fault.content_length}".encode(),
                    head,
                )
            sent = 0
            limit = fault.drop_after if fault is not None else None
            rate = fault.rate if fault is not None else None
            started = time.monotonic()

            def send(data: bytes) -> bool:
                nonlocal sent
                if limit is not None:
                    data = data[: max(0, limit - sent)]
                for i in range(0, len(data), 64 << 10):
                    piece = data[i : i + (64 << 10)]
                    client.sendall(piece)
                    sent += len(piece)
                    if rate:
                        ahead = sent / rate - (time.monotonic() - started)
                        if ahead > 0:
                            time.sleep(ahead)
                return limit is None or sent < limit

            if not send(head + b"\r\n\r\n" + rest):
                return
            while True:
                data = upstream.recv(1 << 20)
                if not data or not send(data):
                    return


def _read_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(1 << 16)
        if not data:
            return None, b""
        buf += data
        if buf.startswith(b"\x16\x03"):  # a TLS ClientHello: answer as Go's net/http does
            sock.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
            return None, b""
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest
