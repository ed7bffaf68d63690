"""Blob bodies against the real registry on both paths — their own ``http.client`` connection
(the default) and httpx's (``KITOPS_DIRECT_BODY=0``): used, verified, and continued with a Range
when the connection breaks mid-body."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitops import api
from kitops.oci.models import Manifest
from kitops.registry import repository
from kitops.registry.client import RegistryClient
from kitops.registry.directbody import DIRECT_BODY
from kitops.registry.repository import RemoteRepository
from kitops.store.layout import LocalStore
from tests.realregistry import Registry

pytestmark = pytest.mark.registry
MiB = 1 << 20


class CuttingRelay:
    """A TCP relay to the registry that breaks the first ``cuts`` connections whose responses pass
    ``cut_after`` bytes: what a flaky network or a restarting proxy does to a long download."""

    def __init__(self, upstream: str, *, cut_after: int, cuts: int) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.cut_after = cut_after
        self.cuts = cuts
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, responses: bool) -> None:
        sent = 0
        try:
            while data := src.recv(256 * 1024):
                dst.sendall(data)
                sent += len(data)
                if responses and sent > self.cut_after:
                    with self.lock:
                        cut = self.cuts > 0
                        self.cuts -= cut
                    if cut:
                        break
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(params=[24 * MiB, 5 * MiB + 777], ids=["24MiB", "5MiB+777"])
def big_kit(
    plain_registry: Registry, repo_name: str, home: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[str, bytes]:
    """A ModelKit with a random model pushed to the registry (path under the relay's host is the
    same repository) and removed locally: (repository path, model bytes). The odd size ends the
    body with fewer bytes than the socket's receive low-water mark."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    data = os.urandom(request.param)
    (ctx / "weights.bin").write_bytes(data)
    (ctx / "Kitfile").write_text("manifestVersion: 1.0.0\nmodel:\n  path: weights.bin\n")
    api.pack(ctx, tag="big:v1", home=home)
    api.push("big:v1", f"{plain_registry.host}/{repo_name}:v1", home=home)
    api.remove("big:v1", home=home)
    return repo_name, data


@pytest.fixture(params=[True, False], ids=["direct", "httpx"])
def direct_sockets(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Runs the test with the direct path on, then off; records, for each blob body, the socket
    it is read from on the direct path (None: through httpx) and checks the path asked for ran."""
    direct = bool(request.param)
    monkeypatch.setenv("KITOPS_DIRECT_BODY", "1" if direct else "0")
    seen: list[object] = []
    real_init = repository._ResponseStream.__init__

    def spy(self: repository._ResponseStream, resp: object) -> None:
        real_init(self, resp)  # type: ignore[arg-type]
        body = resp.extensions.get(DIRECT_BODY)  # type: ignore[attr-defined]
        seen.append(body.socket if self.direct else None)

    monkeypatch.setattr(repository._ResponseStream, "__init__", spy)
    yield seen
    assert seen, "no blob body was read"
    if direct:
        assert all(isinstance(s, socket.socket) for s in seen)
    else:
        assert seen == [None] * len(seen)


def _unpacked_model(ref: str, home: Path, out: Path) -> bytes:
    api.unpack(ref, target_dir=out, home=home, filters=["model"])
    return (out / "weights.bin").read_bytes()


def test_pull_reads_the_body_from_the_socket_and_verifies_it(
    plain_registry: Registry,
    big_kit: tuple[str, bytes],
    home: Path,
    tmp_path: Path,
    direct_sockets: list[object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo, data = big_kit
    ref = f"{plain_registry.host}/{repo}:v1"
    caplog.set_level(logging.DEBUG, logger="kitops")
    api.pull(ref, home=home)
    gets = [r.getMessage() for r in caplog.records if "GET" in r.getMessage() and "/blobs/" in r.getMessage()]
    assert gets and not [g for g in gets if "-> 206" in g]  # each body in one response, never resumed
    assert _unpacked_model(ref, home, tmp_path / "out") == data
    assert not list((home / "storage" / "ingest").iterdir())


def test_readinto_fills_the_callers_buffer_from_the_socket(
    plain_registry: Registry, big_kit: tuple[str, bytes], direct_sockets: list[object]
) -> None:
    """Readers that bring their own buffer get the body with recv_into straight into it."""
    repo, _data = big_kit
    remote = RemoteRepository(RegistryClient(plain_registry.host), repo)
    manifest = Manifest.from_bytes(remote.fetch(remote.resolve("v1")).read())
    layer = max(manifest.layers, key=lambda d: d.size)  # the model tar
    body = remote.open_at(layer, 0)
    got = bytearray()
    buf = memoryview(bytearray(300_000))
    try:
        while n := body.readinto(buf):
            if direct_sockets[-1] is not None:  # the direct path fills the whole buffer
                assert n == min(len(buf), layer.size - len(got))
            got += buf[:n]
    finally:
        body.close()
    assert len(got) == layer.size and "sha256:" + hashlib.sha256(got).hexdigest() == layer.digest


def test_connection_cut_mid_body_is_continued_in_the_same_pull(
    plain_registry: Registry,
    big_kit: tuple[str, bytes],
    home: Path,
    tmp_path: Path,
    direct_sockets: list[object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo, data = big_kit
    relay = CuttingRelay(plain_registry.host, cut_after=2 * MiB, cuts=2)
    try:
        caplog.set_level(logging.DEBUG, logger="kitops")
        ref = f"{relay.host}/{repo}:v1"
        api.pull(ref, home=home)
    finally:
        relay.close()
    assert relay.cuts == 0  # both cuts happened
    ranged = [
        r.getMessage() for r in caplog.records if "/blobs/" in r.getMessage() and "-> 206" in r.getMessage()
    ]
    assert len(ranged) >= 2  # each cut was continued with a Range, not restarted
    store = LocalStore(home / "storage")
    assert _unpacked_model(ref, home, tmp_path / "out") == data
    assert not list(store.ingest_dir.iterdir())


def test_tls_body_is_read_from_the_tls_socket(
    tls_registry: Registry, repo_name: str, home: Path, tmp_path: Path, direct_sockets: list[object]
) -> None:
    import ssl

    from kitops.registry.remote import NetworkOptions

    assert tls_registry.username and tls_registry.password and tls_registry.ca_file
    network = NetworkOptions(ca_file=tls_registry.ca_file, plain_http=False)
    api.login(
        tls_registry.host,
        username=tls_registry.username,
        password=tls_registry.password,
        home=home,
        network=network,
    )
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    data = os.urandom(6 * MiB)
    (ctx / "weights.bin").write_bytes(data)
    (ctx / "Kitfile").write_text("manifestVersion: 1.0.0\nmodel:\n  path: weights.bin\n")
    ref = f"{tls_registry.host}/{repo_name}:v1"
    api.pack(ctx, tag=ref, home=home)
    api.push(ref, home=home, network=network)
    api.remove(ref, home=home)
    api.pull(ref, home=home, network=network)
    assert all(isinstance(s, ssl.SSLSocket) for s in direct_sockets) or direct_sockets == [None] * len(
        direct_sockets
    )
    assert _unpacked_model(ref, home, tmp_path / "out") == data
