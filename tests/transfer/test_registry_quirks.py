"""Registry behaviour a real distribution will not show, played by httpx.MockTransport."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from kitops import api
from kitops.oci.models import Descriptor
from kitops.registry.client import RegistryClient
from kitops.registry.remote import NetworkOptions
from kitops.registry.repository import RemoteRepository
from kitops.registry.upload import UploadOptions
from kitops.store.layout import LocalStore

DATA = bytes(range(256)) * 4096 * 3  # 3 MiB
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
DESC = Descriptor("application/octet-stream", DIGEST, len(DATA))


class FakeRegistry:
    """Minimal upload endpoint with switchable quirks; records every request."""

    def __init__(
        self,
        *,
        patch_status: int = 202,
        stale_range: bool = False,
        put_413: bool = False,
        patch_416_over: int | None = None,
    ) -> None:
        self.patch_status = patch_status
        self.stale_range = stale_range
        self.put_413 = put_413
        self.patch_416_over = patch_416_over
        self.received = bytearray()
        self.requests: list[httpx.Request] = []
        self.stored: bytes | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "POST" and path.endswith("/blobs/uploads/"):
            self.received = bytearray()
            return httpx.Response(202, headers={"Location": "/v2/r/blobs/uploads/u1?_state=s0"})
        if request.method == "PATCH":
            body = request.read()
            if self.patch_416_over is not None and len(body) > self.patch_416_over:
                return httpx.Response(416)
            self.received += body
            end = len(self.received) - 1
            headers = {
                "Location": f"/v2/r/blobs/uploads/u1?_state=s{len(self.received)}",
                "Range": "0-0" if self.stale_range and len(self.received) > len(body) else f"0-{end}",
            }
            return httpx.Response(self.patch_status, headers=headers)
        if request.method == "PUT":
            body = request.read()
            if body and self.put_413:
                return httpx.Response(413, json={"errors": [{"code": "SIZE_INVALID", "message": "too big"}]})
            self.received += body
            if hashlib.sha256(self.received).hexdigest() != request.url.params["digest"].split(":")[1]:
                return httpx.Response(400, json={"errors": [{"code": "DIGEST_INVALID", "message": "digest"}]})
            self.stored = bytes(self.received)
            return httpx.Response(201, headers={"Docker-Content-Digest": request.url.params["digest"]})
        return httpx.Response(404)


def push(fake: Callable[[httpx.Request], httpx.Response], mode: str, chunk: int | None = None) -> None:
    client = RegistryClient("registry.example.com", transport=httpx.MockTransport(fake), backoff_base=0.001)
    repo = RemoteRepository(client, "r", upload=UploadOptions(mode=mode, chunk_size=chunk))
    repo.push(DESC, io.BytesIO(DATA))


def test_ecr_201_on_patch_and_stale_range() -> None:
    fake = FakeRegistry(patch_status=201, stale_range=True)
    push(fake, "chunked", chunk=1 << 20)
    assert fake.stored == DATA
    patches = [r for r in fake.requests if r.method == "PATCH"]
    assert [r.headers["Content-Range"] for r in patches] == [
        "0-1048575",
        "1048576-2097151",
        "2097152-3145727",
    ]
    assert patches[1].url.params["_state"] == "s1048576"  # every Location carried forward


def test_413_on_monolithic_falls_back_to_chunks() -> None:
    fake = FakeRegistry(put_413=True)
    push(fake, "monolithic", chunk=1 << 20)
    assert fake.stored == DATA
    assert [r.method for r in fake.requests].count("PATCH") == 3


def test_416_on_big_chunks_falls_back_to_monolithic() -> None:
    fake = FakeRegistry(patch_416_over=1 << 20)
    push(fake, "chunked", chunk=2 << 20)
    assert fake.stored == DATA
    assert fake.requests[-1].method == "PUT" and len(fake.requests[-1].content) == len(DATA)


def test_429_with_retry_after_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("kitops.registry.client.time.sleep", sleeps.append)
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, headers={"Retry-After": "2"})
        return httpx.Response(200, json={"tags": ["v1"]})

    client = RegistryClient("registry.example.com", transport=httpx.MockTransport(handler))
    assert RemoteRepository(client, "r").tags() == ["v1"]
    assert sleeps == [2.0]


def test_redirect_to_another_host_drops_authorization() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "registry.example.com":
            if "authorization" not in request.headers:
                return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
            return httpx.Response(307, headers={"Location": "https://cdn.example.net/blob?sig=secret"})
        return httpx.Response(200, content=DATA)

    from kitops.registry.auth import Credential

    client = RegistryClient(
        "registry.example.com",
        transport=httpx.MockTransport(handler),
        credentials=lambda _r: Credential("u", "p"),
    )
    with RemoteRepository(client, "r").fetch(DESC) as stream:
        assert stream.read() == DATA
    cdn = [r for r in seen if r.url.host == "cdn.example.net"]
    assert cdn and all("authorization" not in r.headers for r in cdn)
    assert any("authorization" in r.headers for r in seen if r.url.host == "registry.example.com")


def test_token_expiring_mid_upload_is_refreshed_and_body_resent() -> None:
    state = {"tokens": 0, "put_auth": []}  # type: ignore[var-annotated]
    fake = FakeRegistry()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example.com":
            state["tokens"] += 1
            return httpx.Response(200, json={"token": f"t{state['tokens']}", "expires_in": 300})
        auth = request.headers.get("authorization", "")
        challenge = {"WWW-Authenticate": 'Bearer realm="https://auth.example.com/token",service="reg"'}
        if not auth:
            return httpx.Response(401, headers=challenge)
        if request.method == "PUT":
            state["put_auth"].append(auth)
            if auth == "Bearer t1":  # the first token "expires" during the big PUT
                request.read()
                return httpx.Response(401, headers=challenge)
        return fake(request)

    client = RegistryClient("registry.example.com", transport=httpx.MockTransport(handler))
    RemoteRepository(client, "r", upload=UploadOptions(mode="monolithic")).push_from(
        DESC, lambda off: io.BytesIO(DATA[off:])
    )
    assert fake.stored == DATA
    assert state["put_auth"] == ["Bearer t1", "Bearer t2"]


# -- upload Locations: relative, on another port, without the :443 --------------------------------

REGISTRY_ORIGIN = ("registry.example.com", 5000)


class LocationRegistry:
    """An upload endpoint whose ``Location`` headers take a chosen form.

    ``location(state)`` builds the header for the upload ``u1`` at ``_state=state``;
    ``upload_origin`` is where the PATCH/PUT requests must then arrive (anything else,
    or a stale ``_state``, gets 404 BLOB_UPLOAD_UNKNOWN like a real registry).
    ``patch_location`` (default: ``location``) shapes the Locations the PATCHes return.
    The registry origin wants Basic auth; other origins want none.
    """

    def __init__(
        self,
        location: Callable[[str], str],
        upload_origin: tuple[str, int],
        *,
        registry_origin: tuple[str, int] = REGISTRY_ORIGIN,
        patch_location: Callable[[str], str] | None = None,
    ) -> None:
        self.location = location
        self.patch_location = patch_location or location
        self.upload_origin = upload_origin
        self.registry_origin = registry_origin
        self.state = ""
        self.received = bytearray()
        self.stored: bytes | None = None
        self.requests: list[httpx.Request] = []

    @staticmethod
    def _origin(request: httpx.Request) -> tuple[str, int]:
        return request.url.host, request.url.port or (443 if request.url.scheme == "https" else 80)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        origin = self._origin(request)
        if origin == self.registry_origin and "authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="registry"'})
        unknown = httpx.Response(
            404, json={"errors": [{"code": "BLOB_UPLOAD_UNKNOWN", "message": "blob upload unknown"}]}
        )
        if request.method == "POST":
            if origin != self.registry_origin or request.url.path != "/v2/r/blobs/uploads/":
                return unknown
            self.state, self.received = "s0", bytearray()
            return httpx.Response(202, headers={"Location": self.location(self.state)})
        if (
            origin != self.upload_origin
            or request.url.path != "/v2/r/blobs/uploads/u1"
            or request.url.params.get("_state") != self.state
        ):
            request.read()
            return unknown
        body = request.read()
        self.received += body
        if request.method == "PATCH":
            self.state = f"s{len(self.received)}"
            return httpx.Response(
                202,
                headers={"Location": self.patch_location(self.state), "Range": f"0-{len(self.received) - 1}"},
            )
        if request.method == "PUT":
            digest = request.url.params["digest"]
            if "sha256:" + hashlib.sha256(self.received).hexdigest() != digest:
                return httpx.Response(400, json={"errors": [{"code": "DIGEST_INVALID", "message": "digest"}]})
            self.stored = bytes(self.received)
            return httpx.Response(201, headers={"Docker-Content-Digest": digest})
        return unknown

    def upload_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method in ("PATCH", "PUT")]


def push_to(fake: LocationRegistry, registry: str, mode: str) -> None:
    from kitops.registry.auth import Credential

    client = RegistryClient(
        registry,
        transport=httpx.MockTransport(fake),
        backoff_base=0.001,
        credentials=lambda _r: Credential("u", "p"),
    )
    repo = RemoteRepository(client, "r", upload=UploadOptions(mode=mode, chunk_size=1 << 20))
    repo.push_from(DESC, lambda off: io.BytesIO(DATA[off:]))


@pytest.mark.parametrize("mode", ["monolithic", "chunked"])
@pytest.mark.parametrize(
    "location",
    [
        pytest.param(lambda s: f"/v2/r/blobs/uploads/u1?_state={s}", id="path-only"),
        pytest.param(lambda s: f"u1?_state={s}", id="relative-to-uploads"),
    ],
)
def test_relative_upload_location_resolves_against_the_registry(
    location: Callable[[str], str], mode: str
) -> None:
    fake = LocationRegistry(location, upload_origin=REGISTRY_ORIGIN)
    push_to(fake, "registry.example.com:5000", mode)
    assert fake.stored == DATA
    sent = fake.upload_requests()
    assert sent and all(
        LocationRegistry._origin(r) == REGISTRY_ORIGIN for r in sent
    )  # the port kept, scheme too
    assert all(r.url.scheme == "https" and r.url.path == "/v2/r/blobs/uploads/u1" for r in sent)
    assert all("authorization" in r.headers for r in sent)  # same origin: credentials still apply
    if mode == "chunked":  # every PATCH went to the _state the previous answer named
        assert [r.url.params["_state"] for r in sent] == ["s0", "s1048576", "s2097152", "s3145728"]


@pytest.mark.parametrize("mode", ["monolithic", "chunked"])
@pytest.mark.parametrize("netloc", ["registry.example.com:5443", "uploads.example.net:8443"])
def test_absolute_upload_location_on_another_port_is_followed(netloc: str, mode: str) -> None:
    host, port = netloc.split(":")
    fake = LocationRegistry(
        lambda s: f"https://{netloc}/v2/r/blobs/uploads/u1?_state={s}", upload_origin=(host, int(port))
    )
    push_to(fake, "registry.example.com:5000", mode)
    assert fake.stored == DATA
    sent = fake.upload_requests()
    assert sent and all(LocationRegistry._origin(r) == (host, int(port)) for r in sent)
    if host != "registry.example.com":
        assert not any("authorization" in r.headers for r in sent)  # credentials never leave their host


def test_location_without_the_443_port_is_the_same_origin() -> None:
    origin = ("registry.example.com", 443)
    fake = LocationRegistry(
        lambda s: f"https://registry.example.com/v2/r/blobs/uploads/u1?_state={s}",
        upload_origin=origin,
        registry_origin=origin,
    )
    push_to(fake, "registry.example.com:443", "chunked")
    assert fake.stored == DATA
    assert all("authorization" in r.headers for r in fake.upload_requests())


def test_relative_location_from_an_upload_on_another_port_stays_there() -> None:
    upload = ("registry.example.com", 5443)
    fake = LocationRegistry(
        lambda s: f"https://registry.example.com:5443/v2/r/blobs/uploads/u1?_state={s}",
        upload_origin=upload,
        patch_location=lambda s: f"/v2/r/blobs/uploads/u1?_state={s}",
    )
    push_to(fake, "registry.example.com:5000", "chunked")
    assert fake.stored == DATA
    assert all(LocationRegistry._origin(r) == upload for r in fake.upload_requests())


# -- a blob GET that drops mid-body; a registry that ignores Range --------------------------------

MiB = 1 << 20
DROP_AT = 2 * MiB  # a multiple of any sane read buffer: every byte before it reaches the disk


class _Body(httpx.SyncByteStream):
    """A streamed response body (MockTransport reads a plain ``content=`` eagerly); may drop part way."""

    def __init__(
        self, data: bytes, *, drop_after: int | None = None, error: type[Exception] = httpx.ReadError
    ) -> None:
        self.data = data
        self.drop_after = drop_after
        self.error = error

    def __iter__(self) -> Iterator[bytes]:
        end = len(self.data) if self.drop_after is None else self.drop_after
        for i in range(0, end, 64 * 1024):
            yield self.data[i : min(i + 64 * 1024, end)]
        if self.drop_after is not None:
            raise self.error("peer closed connection without sending complete message body")


class PullRegistry:
    """Serves one ModelKit (``r:v1``) for ``api.pull``; honours any Range unless told to ignore it.

    ``drops`` is how many GETs of ``big`` are cut after ``drop_at`` (default ``DROP_AT``) body bytes.
    """

    def __init__(
        self,
        blobs: dict[str, bytes],
        manifest: Descriptor,
        big: str,
        *,
        drops: int = 0,
        error: type[Exception] = httpx.ReadError,
    ) -> None:
        self.blobs = blobs
        self.manifest = manifest
        self.big = big
        self.drops = drops
        self.error = error
        self.honour_range = True
        self.drop_at = DROP_AT
        self.gets: list[str | None] = []  # the Range header of every GET of ``big``

    def __call__(self, request: httpx.Request) -> httpx.Response:
        m = re.match(r"^/v2/r/(manifests|blobs)/([^/]+)$", request.url.path)
        if m is None:
            return httpx.Response(404)
        kind, ref = m.groups()
        if kind == "manifests":
            if ref not in ("v1", self.manifest.digest):
                return httpx.Response(
                    404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "unknown"}]}
                )
            data = self.blobs[self.manifest.digest]
            headers = {
                "Content-Type": self.manifest.media_type,
                "Docker-Content-Digest": self.manifest.digest,
                "Content-Length": str(len(data)),
            }
            return httpx.Response(
                200, headers=headers, stream=_Body(b"" if request.method == "HEAD" else data)
            )
        data = self.blobs.get(ref)  # type: ignore[assignment]
        if data is None:
            return httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN", "message": "unknown"}]})
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Content-Length": str(len(data))}, stream=_Body(b""))
        rng = request.headers.get("range")
        if ref == self.big:
            self.gets.append(rng)
        status, body, headers = 200, data, {"Accept-Ranges": "bytes"}
        if rng and self.honour_range:
            rm = re.match(r"^bytes=(\d+)-(\d*)$", rng)
            assert rm, f"not a single byte range: {rng}"
            start = int(rm.group(1))
            end = int(rm.group(2)) if rm.group(2) else len(data) - 1
            status, body = 206, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        headers["Content-Length"] = str(len(body))
        drop = None
        if ref == self.big and self.drops and len(body) > self.drop_at:
            self.drops -= 1
            drop = self.drop_at
        return httpx.Response(status, headers=headers, stream=_Body(body, drop_after=drop, error=self.error))


def _range_start(header: str | None) -> int | None:
    if header is None:
        return None
    assert header.startswith("bytes=") and "," not in header, header
    return int(header[len("bytes=") :].split("-", 1)[0])


@pytest.fixture()
def served(tmp_path: Path) -> tuple[dict[str, bytes], Descriptor, Descriptor]:
    """A packed ModelKit with one 6 MiB model layer: (blobs by digest, manifest, the model layer)."""

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "weights.bin").write_bytes(os.urandom(6 * MiB))
    (ctx / "Kitfile").write_text("manifestVersion: 1.0.0\nmodel:\n  path: weights.bin\n")
    res = api.pack(ctx, tag="m:v1", home=tmp_path / "packed")
    store = LocalStore(tmp_path / "packed" / "storage")
    descs = [res.descriptor, res.manifest.config, *res.manifest.layers]
    return (
        {d.digest: store.blob_path(d.digest).read_bytes() for d in descs},
        res.descriptor,
        res.manifest.layers[0],
    )


def _pull(fake: PullRegistry, home: Path) -> None:
    api.pull(
        "registry.example.com/r:v1", home=home, network=NetworkOptions(transport=httpx.MockTransport(fake))
    )


def _stored(home: Path, digest: str) -> bytes | None:
    path = LocalStore(home / "storage").blob_path(digest)
    return path.read_bytes() if path.exists() else None


def _ingest(home: Path) -> dict[str, int]:
    ingest = home / "storage" / "ingest"
    return {p.name: p.stat().st_size for p in ingest.iterdir()} if ingest.is_dir() else {}


def _assert_range_continues_at(header: str | None, offset: int, size: int) -> None:
    """``bytes=offset-`` or the closed ``bytes=offset-(size-1)``; never the whole blob again."""
    assert header in (f"bytes={offset}-", f"bytes={offset}-{size - 1}"), header


ERRORS = [
    pytest.param(httpx.RemoteProtocolError, id="RemoteProtocolError"),
    pytest.param(httpx.ReadError, id="ReadError"),
]


@pytest.mark.parametrize("error", ERRORS)
def test_blob_get_dropped_mid_body_continues_with_a_range_in_the_same_pull(
    served: tuple[dict[str, bytes], Descriptor, Descriptor], tmp_path: Path, error: type[Exception]
) -> None:
    blobs, manifest, layer = served
    fake = PullRegistry(blobs, manifest, layer.digest, drops=1, error=error)
    home = tmp_path / "home"
    _pull(fake, home)
    assert _stored(home, layer.digest) == blobs[layer.digest]
    assert fake.gets[0] is None or _range_start(fake.gets[0]) == 0
    _assert_range_continues_at(fake.gets[1], DROP_AT, layer.size)


def _leave_partial(home: Path, layer: Descriptor, data: bytes, size: int) -> None:
    """What a pull killed mid-blob leaves behind: the first ``size`` bytes in ``ingest/<hex>``."""
    ingest = home / "storage" / "ingest"
    ingest.mkdir(parents=True, exist_ok=True)
    (ingest / layer.digest.split(":", 1)[1]).write_bytes(data[:size])


@pytest.mark.parametrize("error", ERRORS)
def test_every_drop_is_continued_and_a_dead_connection_fails_with_a_hint(
    served: tuple[dict[str, bytes], Descriptor, Descriptor], tmp_path: Path, error: type[Exception]
) -> None:
    blobs, manifest, layer = served
    fake = PullRegistry(blobs, manifest, layer.digest, drops=2, error=error)
    home = tmp_path / "home"
    _pull(fake, home)  # two drops, each continued where it broke
    assert [_range_start(h) for h in fake.gets] == [None, DROP_AT, 2 * DROP_AT]
    assert _stored(home, layer.digest) == blobs[layer.digest]
    assert _ingest(home) == {}


def test_connection_that_drops_before_any_byte_gives_up_and_keeps_the_partial(
    served: tuple[dict[str, bytes], Descriptor, Descriptor], tmp_path: Path
) -> None:
    from kitops.errors import ConnectionDropped
    from kitops.store.layout import MAX_DROPS

    blobs, manifest, layer = served
    home = tmp_path / "home"
    _leave_partial(home, layer, blobs[layer.digest], DROP_AT)
    fake = PullRegistry(blobs, manifest, layer.digest, drops=100)
    fake.drop_at = 0  # every answer breaks before its first byte
    with pytest.raises(ConnectionDropped) as info:
        _pull(fake, home)
    assert "re-run" in (info.value.hint or "")
    assert len(fake.gets) == MAX_DROPS  # bounded: no endless loop
    assert _ingest(home)[layer.digest.split(":", 1)[1]] == DROP_AT  # kept for the next run
    fake.drops = 0
    _pull(fake, home)
    assert _range_start(fake.gets[-1]) == DROP_AT
    assert _stored(home, layer.digest) == blobs[layer.digest]


def test_registry_ignoring_range_has_its_prefix_skipped_not_appended(
    served: tuple[dict[str, bytes], Descriptor, Descriptor], tmp_path: Path
) -> None:
    blobs, manifest, layer = served
    home = tmp_path / "home"
    _leave_partial(home, layer, blobs[layer.digest], DROP_AT)
    fake = PullRegistry(blobs, manifest, layer.digest)
    fake.honour_range = False  # e.g. a CDN in front that answers every GET with the whole blob
    _pull(fake, home)
    assert [_range_start(h) for h in fake.gets] == [DROP_AT]  # it asked for the rest only, once
    assert _stored(home, layer.digest) == blobs[layer.digest]
    assert _ingest(home) == {}


def test_corrupt_partial_is_discarded_and_the_blob_fetched_again(
    served: tuple[dict[str, bytes], Descriptor, Descriptor], tmp_path: Path
) -> None:
    blobs, manifest, layer = served
    home = tmp_path / "home"
    _leave_partial(home, layer, b"\0" * DROP_AT, DROP_AT)
    fake = PullRegistry(blobs, manifest, layer.digest)
    _pull(fake, home)
    assert [_range_start(h) for h in fake.gets] == [DROP_AT, None]  # continued, failed the digest, restarted
    assert _stored(home, layer.digest) == blobs[layer.digest]
    assert _ingest(home) == {}


class _Endless(httpx.SyncByteStream):
    """A chunked body that never ends; counts what was read of it."""

    def __init__(self) -> None:
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        while True:
            self.sent += 1 << 20
            yield b"[" * (1 << 20)


def test_metadata_answers_are_read_bounded() -> None:
    from kitops.errors import RegistryError, TransferError
    from kitops.registry.client import MAX_BODY

    endless = _Endless()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tags/list"):
            return httpx.Response(200, stream=endless)  # no Content-Length: chunked
        return httpx.Response(200, headers={"Content-Length": str(MAX_BODY + 1)}, stream=_Endless())

    client = RegistryClient("registry.example.com", transport=httpx.MockTransport(handler))
    with pytest.raises(TransferError, match="over the 16777216-byte limit"):
        RemoteRepository(client, "r").tags()
    assert endless.sent <= MAX_BODY + (1 << 20)  # stopped at the limit, not read to the end
    with pytest.raises(TransferError, match=r"sent a 16777217-byte answer"):
        client.request("GET", "/v2/", expect=(200,))

    endless_error = _Endless()
    failing = RegistryClient(
        "registry.example.com",
        backoff_base=0.001,
        transport=httpx.MockTransport(lambda request: httpx.Response(400, stream=endless_error)),
    )
    with pytest.raises(RegistryError, match="400 Bad Request"):
        failing.request("GET", "/v2/", expect=(200,))
    assert endless_error.sent <= 1 << 20  # an error body: only its first few KiB are read
