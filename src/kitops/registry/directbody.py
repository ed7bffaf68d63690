"""Blob downloads on a connection of their own, read with the standard library's ``http.client``.

A blob GET is the one request whose body is large: httpx reads it through h11, which copies
every byte three times and holds the GIL while parsing, so a multi-GB pull spent more time in
the parser than in hashing. :class:`DirectBodyTransport` is an ordinary ``httpx`` transport
(the public seam for custom I/O): requests marked with the :data:`DIRECT_BODY` extension are
sent on a fresh ``http.client`` connection, whose ``readinto`` fills the caller's buffer
straight from the socket; every other request goes to the wrapped httpx transport. Nothing
of httpx, httpcore or h11 is patched or read past its public API, and the path can be
switched off (``KITOPS_DIRECT_BODY=0``), which sends blob GETs through httpx like the rest.

The connection is used for one body and closed after it: a blob is large enough that the
connection set-up does not matter, and nothing is left half-read in a shared pool.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
from collections.abc import Iterator

import httpx

DIRECT_BODY = (
    "kitops.direct_body"  # request extension asking for the direct path; response extension holding the body
)
ENV_SWITCH = "KITOPS_DIRECT_BODY"
RCVLOWAT = 256 << 10
CHUNK = 1 << 20
MAX_HEADERS_BYTES = 64 << 10


def enabled_by_environment() -> bool:
    """The direct path is on unless ``KITOPS_DIRECT_BODY`` is ``0``/``false``/``no``/``off``."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def set_rcvlowat(sock: socket.socket, size: int) -> int:
    """Make ``recv`` wait for ``size`` bytes on a plain TCP socket (0 where not applied).

    A reader woken for every loopback segment makes a pull's system time double; TLS sockets
    are left alone (their records are framed, and OpenSSL may hold plaintext already)."""
    if isinstance(sock, ssl.SSLSocket) or not hasattr(socket, "SO_RCVLOWAT"):
        return 0
    size = max(1, size)  # 1 is the default: plain recv semantics again
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, size)
    except OSError:
        return 0
    return size


class DirectBody(httpx.SyncByteStream):
    """The body of one response on its own connection: an httpx byte stream (so any httpx code can
    read it) that also offers ``readinto``, which fills the caller's whole buffer from the socket.

    A connection that ends early (``http.client`` raises ``IncompleteRead`` for a chunked body
    and returns 0 for one of known length) is raised as ``OSError``, so callers handle every
    broken connection one way.
    """

    def __init__(
        self, conn: http.client.HTTPConnection, sock: socket.socket, resp: http.client.HTTPResponse
    ) -> None:
        # ``sock`` is kept apart: http.client hands a closing connection's socket to the response
        # and forgets it, but a blocked read must still be woken by shutting it down.
        self._conn = conn
        self._sock = sock
        self._resp = resp
        length = resp.getheader("content-length")
        self._remaining = int(length) if length is not None and length.isdigit() else -1
        self._lowat = 0
        if self._remaining > 0 and resp.getheader("transfer-encoding") is None:
            self._lowat = set_rcvlowat(sock, min(RCVLOWAT, self._remaining))

    @property
    def socket(self) -> socket.socket:
        return self._sock

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` (or up to the end of the body); 0 at the end."""
        if self._lowat > 1 and 0 <= self._remaining < self._lowat:
            self._lowat = set_rcvlowat(self._sock, self._remaining)  # the last bytes: never wait for more
        try:
            got = self._resp.readinto(view)
        except http.client.HTTPException as exc:
            raise ConnectionResetError(f"connection ended early: {exc!r}") from exc
        if self._remaining >= 0:
            if not got and self._remaining and len(view):  # http.client returns 0 here, silently
                raise ConnectionResetError(
                    f"connection closed {self._remaining} bytes before the end of the body"
                )
            self._remaining -= got
        return got

    def __iter__(self) -> Iterator[bytes]:
        buf = memoryview(bytearray(CHUNK))
        while n := self.readinto(buf):
            yield bytes(buf[:n])

    def interrupt(self) -> None:
        """End a read blocked in another thread: shutting the socket down wakes ``recv`` at once."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._resp.close()
        self._conn.close()


class DirectBodyTransport(httpx.BaseTransport):
    """An httpx transport that sends requests marked with :data:`DIRECT_BODY` on their own
    ``http.client`` connection and everything else through ``inner``."""

    def __init__(self, inner: httpx.BaseTransport, ssl_context: ssl.SSLContext) -> None:
        self._inner = inner
        self._ssl_context = ssl_context

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (
            not request.extensions.get(DIRECT_BODY)
            or request.method != "GET"
            or request.url.scheme not in ("http", "https")
        ):
            return self._inner.handle_request(request)
        return self._send_direct(request)

    def _send_direct(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        connect_timeout = timeouts.get("connect") or 30.0
        read_timeout = timeouts.get("read") or 300.0
        host, port = request.url.host, request.url.port
        conn: http.client.HTTPConnection
        if request.url.scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=self._ssl_context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("accept-encoding", "connection")
        }
        headers["Accept-Encoding"] = "identity"  # the bytes as stored: digests are over them
        headers["Connection"] = "close"
        target = request.url.raw_path.decode("ascii")
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            raise _transport_error(exc, request, connecting=True) from exc
        sock = conn.sock
        assert sock is not None
        try:
            sock.settimeout(read_timeout)
            conn.request("GET", target, headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _transport_error(exc, request, connecting=False) from exc
        body = DirectBody(conn, sock, resp)
        return httpx.Response(
            resp.status,
            headers=resp.getheaders(),
            stream=body,
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": resp.reason.encode("latin-1", "replace"),
                DIRECT_BODY: body,
            },
        )

    def close(self) -> None:
        self._inner.close()


def _transport_error(exc: BaseException, request: httpx.Request, *, connecting: bool) -> httpx.TransportError:
    """The httpx exception httpx's own transport raises for the same failure, so retries, the
    loopback plain-HTTP fallback and error messages work the same on both paths (the original
    stays reachable as the cause)."""
    text = str(exc) or repr(exc)
    if isinstance(exc, TimeoutError):
        return (httpx.ConnectTimeout if connecting else httpx.ReadTimeout)(text, request=request)
    if connecting:
        return httpx.ConnectError(text, request=request)
    if isinstance(exc, http.client.HTTPException):
        return httpx.RemoteProtocolError(text, request=request)
    return httpx.ReadError(text, request=request)
