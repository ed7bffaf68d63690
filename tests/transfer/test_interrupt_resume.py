"""``kill -9`` in the middle of a blob, then the same command again: push and pull resume (real registry).

The CLI runs in a subprocess and talks to the registry through :class:`GateProxy`, a
small TCP relay that parses request heads. It records what was sent (methods,
``Content-Range``, ``Range``, body bytes) and holds one chosen request, before or
part-way through its body or its answer, so the process is always killed at a
known point of the blob: no timing, no fixed sleeps.
"""

from __future__ import annotations

import contextlib
import filecmp
import hashlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from kitops import api
from kitops.modelkit.pack import PackResult
from kitops.oci import mediatypes as mt
from kitops.store.layout import LocalStore
from tests.realregistry import Registry

pytestmark = [pytest.mark.slow, pytest.mark.registry]

MiB = 1 << 20
BLOB_SIZE = 64 * MiB
CHUNK_MIB = 8
CHUNK = CHUNK_MIB * MiB
DEADLINE = 15.0


# -- the relay ----------------------------------------------------------------------------------


@dataclass
class SeenRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-cased names
    body_forwarded: int = 0  # body bytes the registry received


@dataclass
class Hold:
    """Stop relaying a request after ``body`` bytes of its body (0: before its head), or after
    ``response`` bytes of its answer."""

    body: int | None = None
    response: int | None = None


@dataclass
class _Conn:
    client: socket.socket
    upstream: socket.socket
    closed: threading.Event = field(default_factory=threading.Event)
    response_limit: int | None = None
    response_seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class GateProxy:
    """HTTP/1.1 relay in front of a registry (Content-Length bodies, no pipelining: what httpx sends)."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self._upstream = (host, int(port))
        self.requests: list[SeenRequest] = []
        self._rule: Callable[[SeenRequest], Hold | None] = lambda _r: None
        self.held = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[_Conn] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.host = f"127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self, rule: Callable[[SeenRequest], Hold | None] | None = None) -> None:
        """Forget what was seen; hold what ``rule`` says from now on (nothing without one)."""
        with self._lock:
            self.requests = []
            self._rule = rule or (lambda _r: None)
            self.held.clear()

    def seen(self) -> list[SeenRequest]:
        with self._lock:
            return list(self.requests)

    def close(self) -> None:
        self._sock.close()
        for conn in list(self._conns):
            self._close(conn)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._upstream)
            except OSError:
                client.close()
                continue
            conn = _Conn(client, upstream)
            self._conns.append(conn)
            threading.Thread(target=self._relay_requests, args=(conn,), daemon=True).start()
            threading.Thread(target=self._relay_responses, args=(conn,), daemon=True).start()

    @staticmethod
    def _close(conn: _Conn) -> None:
        conn.closed.set()
        for s in (conn.client, conn.upstream):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _stall(self, conn: _Conn) -> None:
        """Forward nothing more; swallow whatever the client still sends until it goes away."""
        self.held.set()
        with contextlib.suppress(OSError):
            while conn.client.recv(1 << 16):
                pass

    def _relay_requests(self, conn: _Conn) -> None:
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.client.recv(1 << 16)
                    if not data:
                        return
                    buf += data
                    if buf.startswith(b"\x16\x03"):  # a TLS ClientHello: answer as Go's net/http does
                        conn.client.sendall(
                            b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
                        )
                        return
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                assert "chunked" not in headers.get("transfer-encoding", ""), (
                    "chunked request bodies are not relayed"
                )
                length = int(headers.get("content-length") or 0)
                req = SeenRequest(method, target, headers)
                with self._lock:
                    self.requests.append(req)
                    hold = self._rule(req)
                if hold is not None and hold.body == 0:
                    self._stall(conn)  # not one byte of this request reaches the registry
                    return
                with conn.lock:
                    conn.response_limit = hold.response if hold is not None else None
                    conn.response_seen = 0
                conn.upstream.sendall(head + b"\r\n\r\n")
                limit = hold.body if hold is not None and hold.body is not None else length
                while req.body_forwarded < length:
                    if req.body_forwarded >= limit:
                        self._stall(conn)
                        return
                    if not buf:
                        buf = conn.client.recv(1 << 16)
                        if not buf:
                            return
                    n = min(len(buf), length - req.body_forwarded, limit - req.body_forwarded)
                    conn.upstream.sendall(buf[:n])
                    buf = buf[n:]
                    req.body_forwarded += n
        except OSError:
            pass
        finally:
            self._close(conn)

    def _relay_responses(self, conn: _Conn) -> None:
        try:
            while True:
                data = conn.upstream.recv(1 << 16)
                if not data:
                    return
                with conn.lock:
                    limit = conn.response_limit
                    out = data if limit is None else data[: max(0, limit - conn.response_seen)]
                    conn.response_seen += len(out)
                if out:
                    conn.client.sendall(out)
                if len(out) < len(data):
                    self.held.set()
                    conn.closed.wait()  # until the client is gone
                    return
        except OSError:
            pass
        finally:
            self._close(conn)


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture()
def proxy(plain_registry: Registry) -> Iterator[GateProxy]:
    gate = GateProxy(plain_registry.host)
    yield gate
    gate.close()


@pytest.fixture()
def bigkit(home: Path, tmp_path: Path) -> PackResult:
    """``big:v1``: one model layer of 64 MiB of random bytes (the config is the only other blob)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with open(ctx / "weights.bin", "wb") as fh:
        for _ in range(BLOB_SIZE // (8 * MiB)):
            fh.write(os.urandom(8 * MiB))
    (ctx / "Kitfile").write_text("manifestVersion: 1.0.0\nmodel:\n  path: weights.bin\n")
    res = api.pack(ctx, tag="big:v1", home=home)
    assert len(res.manifest.layers) == 1 and res.manifest.layers[0].size > BLOB_SIZE
    return res


@pytest.fixture()
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:  # only ours, by their own handle
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def kit_cmd(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "kitops.cli.main", "--config", str(home), "--progress", "none", "-v", *args]


def start(processes: list[subprocess.Popen[bytes]], cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    processes.append(proc)
    return proc


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"kit exited ({proc.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {DEADLINE} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)


def kill9(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()  # SIGKILL: no cleanup handler runs
    proc.wait(10)
    assert proc.returncode == -9


def rerun(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(4 * MiB):
            hasher.update(chunk)
    return hasher.hexdigest()


def remote_manifest_digest(registry: Registry, repo: str, tag: str) -> str | None:
    resp = httpx.head(f"{registry.url}/v2/{repo}/manifests/{tag}", headers={"Accept": mt.MANIFEST_ACCEPT})
    return resp.headers.get("docker-content-digest") if resp.status_code == 200 else None


def upload_bytes(requests: list[SeenRequest]) -> int:
    return sum(
        r.body_forwarded for r in requests if r.method in ("PATCH", "PUT") and "/blobs/uploads/" in r.target
    )


def assert_pushed(registry: Registry, repo: str, res: PackResult, home: Path) -> None:
    assert remote_manifest_digest(registry, repo, "v1") == res.descriptor.digest
    store = LocalStore(home / "storage")
    for blob in (res.manifest.config, *res.manifest.layers):
        assert filecmp.cmp(registry.blob_path(blob.digest), store.blob_path(blob.digest), shallow=False), (
            blob.digest
        )


# -- push -----------------------------------------------------------------------------------------


def test_killed_chunked_push_resumes_at_the_last_accepted_chunk(
    plain_registry: Registry,
    proxy: GateProxy,
    bigkit: PackResult,
    home: Path,
    tmp_path: Path,
    repo_name: str,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    layer = bigkit.manifest.layers[0]
    accepted = 2 * CHUNK
    # Killed between two chunks: the registry has exactly the first two, and not a byte of the third.
    proxy.reset(
        lambda r: (
            Hold(body=0)
            if r.method == "PATCH" and r.headers.get("content-range", "").startswith(f"{accepted}-")
            else None
        )
    )
    cmd = kit_cmd(
        home,
        "push",
        "big:v1",
        f"{proxy.host}/{repo_name}:v1",
        "--upload-mode",
        "chunked",
        "--chunk-size",
        str(CHUNK_MIB),
    )
    log = tmp_path / "push-1.log"
    proc = start(processes, cmd, log)
    wait_for(proxy.held.is_set, proc, log, "third chunk of the model layer")
    kill9(proc)
    first = proxy.seen()
    assert [
        r.headers["content-range"] for r in first if r.method == "PATCH" and r.body_forwarded == CHUNK
    ] == [f"0-{CHUNK - 1}", f"{CHUNK}-{accepted - 1}"]
    assert remote_manifest_digest(plain_registry, repo_name, "v1") is None

    proxy.reset()
    stderr = rerun(cmd)
    assert f"Resuming upload at byte {accepted}" in stderr
    second = proxy.seen()
    starts = [int(r.headers["content-range"].split("-")[0]) for r in second if r.method == "PATCH"]
    assert starts and min(starts) == accepted  # nothing the registry had accepted was sent again
    assert upload_bytes(second) == layer.size - accepted
    assert not [r for r in second if r.method == "POST"]  # the saved session was used, no new one
    assert_pushed(plain_registry, repo_name, bigkit, home)


@pytest.mark.parametrize("mode", ["chunked", "monolithic"])
def test_push_killed_mid_request_completes_on_the_next_run(
    plain_registry: Registry,
    proxy: GateProxy,
    bigkit: PackResult,
    home: Path,
    tmp_path: Path,
    repo_name: str,
    processes: list[subprocess.Popen[bytes]],
    mode: str,
) -> None:
    """Killed while a body is on the wire: distribution keeps the half-received bytes, then refuses the
    saved session ("upload resumed at wrong offset") and cancels it, so the client must start over cleanly."""
    layer = bigkit.manifest.layers[0]

    def rule(r: SeenRequest) -> Hold | None:
        if (
            mode == "chunked"
            and r.method == "PATCH"
            and r.headers.get("content-range", "").startswith(f"{2 * CHUNK}-")
        ):
            return Hold(body=3 * MiB)
        if mode == "monolithic" and r.method == "PUT" and r.headers.get("content-length") == str(layer.size):
            return Hold(body=24 * MiB)
        return None

    proxy.reset(rule)
    cmd = kit_cmd(
        home,
        "push",
        "big:v1",
        f"{proxy.host}/{repo_name}:v1",
        "--upload-mode",
        mode,
        "--chunk-size",
        str(CHUNK_MIB),
    )
    log = tmp_path / "push-1.log"
    proc = start(processes, cmd, log)
    wait_for(proxy.held.is_set, proc, log, "held upload")
    kill9(proc)
    assert remote_manifest_digest(plain_registry, repo_name, "v1") is None

    proxy.reset()
    rerun(cmd)
    assert upload_bytes(proxy.seen()) <= layer.size  # at most one copy of the model layer (config was done)
    assert_pushed(plain_registry, repo_name, bigkit, home)


# -- pull -----------------------------------------------------------------------------------------


def _ranges(requests: list[SeenRequest], digest: str, size: int) -> list[tuple[int, int] | None]:
    out: list[tuple[int, int] | None] = []
    for r in requests:
        if r.method == "GET" and r.target.split("?")[0].endswith(f"/blobs/{digest}"):
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", r.headers.get("range", ""))
            out.append((int(m.group(1)), int(m.group(2)) if m.group(2) else size - 1) if m else None)
    return out


def _stalling_pull(
    registry: Registry, proxy: GateProxy, home: Path, tmp_path: Path, repo_name: str, digest: str
) -> tuple[Path, str, list[str], Path, Callable[[], int]]:
    """big:v1 on the registry, the relay stalling the layer's body after 24 MiB, and a pull of it
    into a fresh home: (home, reference, command, log, size of the largest partial download)."""
    api.push("big:v1", f"{registry.host}/{repo_name}:v1", home=home)
    proxy.reset(lambda r: Hold(response=24 * MiB) if r.method == "GET" and digest in r.target else None)
    fresh = tmp_path / "fresh"
    ingest = fresh / "storage" / "ingest"
    ref = f"{proxy.host}/{repo_name}:v1"

    def partial_size() -> int:
        sizes = [p.stat().st_size for p in ingest.iterdir()] if ingest.is_dir() else []
        return max(sizes, default=0)

    return fresh, ref, kit_cmd(fresh, "pull", ref), tmp_path / "pull-1.log", partial_size


def test_killed_pull_resumes_from_the_partial_file(
    plain_registry: Registry,
    proxy: GateProxy,
    bigkit: PackResult,
    home: Path,
    tmp_path: Path,
    repo_name: str,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    layer = bigkit.manifest.layers[0]
    hexpart = layer.digest.split(":", 1)[1]
    fresh, ref, cmd, log, partial_size = _stalling_pull(
        plain_registry, proxy, home, tmp_path, repo_name, layer.digest
    )

    proc = start(processes, cmd, log)
    wait_for(lambda: proxy.held.is_set() and partial_size() >= 8 * MiB, proc, log, "partial file of 8 MiB")
    kill9(proc)
    partial = partial_size()  # the process is dead: this is what the next run finds
    assert 8 * MiB <= partial < layer.size
    assert not LocalStore(fresh / "storage").has_blob(layer.digest)

    proxy.reset()
    stderr = rerun(cmd)
    ranges = _ranges(proxy.seen(), layer.digest, layer.size)
    assert ranges and None not in ranges, ranges  # never fetched from byte 0 again
    assert min(r[0] for r in ranges if r) == partial  # resumed exactly where the partial file ends
    assert max(r[1] for r in ranges if r) == layer.size - 1
    assert re.search(rf"GET \S+/blobs/{layer.digest} -> 206", stderr), stderr[-3000:]

    assert sha256_file(LocalStore(fresh / "storage").blob_path(layer.digest)) == hexpart
    assert not [
        p for p in (fresh / "storage" / "ingest").iterdir() if hexpart in p.name
    ]  # the partial became the blob
    out = tmp_path / "out"
    api.unpack(ref, target_dir=out, home=fresh)
    assert filecmp.cmp(out / "weights.bin", tmp_path / "ctx" / "weights.bin", shallow=False)


def test_ctrl_c_on_a_stalled_pull_stops_at_once_and_keeps_the_partial(
    plain_registry: Registry,
    proxy: GateProxy,
    bigkit: PackResult,
    home: Path,
    tmp_path: Path,
    repo_name: str,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    """The first Ctrl-C ends a pull whose connection has stalled mid-blob within a second, keeps
    the verified prefix, says how much was kept and exits 130; the next run resumes from it."""
    import signal

    layer = bigkit.manifest.layers[0]
    hexpart = layer.digest.split(":", 1)[1]
    fresh, _ref, cmd, log, partial_size = _stalling_pull(
        plain_registry, proxy, home, tmp_path, repo_name, layer.digest
    )

    proc = start(processes, cmd, log)
    wait_for(lambda: proxy.held.is_set() and partial_size() >= 16 * MiB, proc, log, "a stalled partial file")
    time.sleep(0.3)  # the reader is now blocked on the stalled socket
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(10)
    stopped = time.monotonic() - sent
    stderr = log.read_text()
    assert proc.returncode == 130, stderr[-3000:]
    assert stopped < 1.5, f"took {stopped:.2f}s to stop after Ctrl-C"
    assert re.search(r"error: interrupted; \d+\.\d MiB kept, re-run to resume", stderr), stderr[-3000:]
    assert "partial output was removed" not in stderr
    partial = partial_size()
    assert 16 * MiB <= partial < layer.size  # kept for the next run

    proxy.reset()
    rerun(cmd)
    ranges = _ranges(proxy.seen(), layer.digest, layer.size)
    assert ranges and min(r[0] for r in ranges if r) == partial  # resumed, not restarted
    assert sha256_file(LocalStore(fresh / "storage").blob_path(layer.digest)) == hexpart
