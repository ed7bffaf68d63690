"""Every answer body the client reads is bounded: a hostile registry or token service that sends a
1 GiB error body (on 5xx, 429, 401, 403, 404) costs a few KiB of reading, never the whole body."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from kitops.errors import AuthenticationError, RegistryError, TransferError
from kitops.registry.auth import Credential
from kitops.registry.client import RegistryClient

GiB = 1 << 30
CHUNK = 1 << 20


class HugeBody(httpx.SyncByteStream):
    """A 1 GiB body made on demand, counting what the client actually pulls from it."""

    def __init__(self, pulled: list[int]) -> None:
        self.pulled = pulled

    def __iter__(self) -> Iterator[bytes]:
        block = b"x" * CHUNK
        for _ in range(GiB // CHUNK):
            self.pulled[0] += CHUNK
            yield block


def _client(handler: httpx.MockTransport, **kw: object) -> RegistryClient:
    return RegistryClient("registry.example.com", transport=handler, backoff_base=0.001, max_retries=2, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [500, 503, 429, 404, 400, 403])
def test_error_bodies_are_not_read_whole(status: int) -> None:
    pulled = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, stream=HugeBody(pulled))

    client = _client(httpx.MockTransport(handler))
    with pytest.raises(RegistryError):
        client.request("GET", "/v2/repo/manifests/v1", expect=(200,))
    assert pulled[0] <= 4 * CHUNK, f"read {pulled[0]} bytes of a {status} body"


def test_401_bodies_are_not_read_whole() -> None:
    pulled = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers={"www-authenticate": 'Basic realm="x"'}, stream=HugeBody(pulled))

    client = _client(
        httpx.MockTransport(handler), credentials=lambda _r: Credential(username="u", password="p")
    )
    with pytest.raises(AuthenticationError):
        client.request("GET", "/v2/", expect=(200,))
    assert pulled[0] <= 4 * CHUNK


def test_token_service_answers_are_bounded() -> None:
    """A token endpoint that answers 200 with 1 GiB is refused, not buffered."""
    pulled = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example.com":
            return httpx.Response(200, stream=HugeBody(pulled))
        return httpx.Response(
            401, headers={"www-authenticate": 'Bearer realm="https://auth.example.com/token",service="r"'}
        )

    client = _client(httpx.MockTransport(handler))
    with pytest.raises(TransferError, match="limit for metadata"):
        client.request("GET", "/v2/", expect=(200,))
    assert pulled[0] <= 32 * CHUNK


def test_the_error_message_still_comes_from_the_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
        )

    with pytest.raises(RegistryError, match="manifest_unknown: manifest unknown"):
        _client(httpx.MockTransport(handler)).request("GET", "/v2/repo/manifests/v1", expect=(200,))


def test_ecr_expired_token_403_still_reauthenticates() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers.get("authorization", ""))
        if len(calls) == 1:
            return httpx.Response(
                403, text="Your authorization token has expired. Reauthenticate and try again."
            )
        return httpx.Response(200, json={})

    client = _client(
        httpx.MockTransport(handler), credentials=lambda _r: Credential(username="AWS", password="tok")
    )
    assert client.request("GET", "/v2/", expect=(200,)).status_code == 200
    assert len(calls) == 2 and calls[1].startswith("Basic ")
