"""Registry behaviour a real distribution will not show, played by httpx.MockTransport."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable

import httpx
import pytest

from kitops.oci.models import Descriptor
from kitops.registry.client import RegistryClient
from kitops.registry.repository import RemoteRepository
from kitops.registry.upload import UploadOptions

DATA = bytes(range(256)) * 4096 * 3  # 3 MiB
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
DESC = Descriptor("application/octet-stream", DIGEST, len(DATA))


class FakeRegistry:
    """Minimal upload endpoint with switchable quirks; records every request."""

    def __init__(self, *, patch_status: int = 202, stale_range: bool = False, put_413: bool = False,
                 patch_416_over: int | None = None) -> None:
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
            headers = {"Location": f"/v2/r/blobs/uploads/u1?_state=s{len(self.received)}",
                       "Range": "0-0" if self.stale_range and len(self.received) > len(body) else f"0-{end}"}
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
    assert [r.headers["Content-Range"] for r in patches] == ["0-1048575", "1048576-2097151", "2097152-3145727"]
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

    client = RegistryClient("registry.example.com", transport=httpx.MockTransport(handler),
                            credentials=lambda _r: Credential("u", "p"))
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
        DESC, lambda off: io.BytesIO(DATA[off:]))
    assert fake.stored == DATA
    assert state["put_auth"] == ["Bearer t1", "Bearer t2"]
