"""Our Bearer token flow against the real registry behind token auth (tests/tokenissuer.py is the realm)."""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kitops import api
from kitops.errors import AuthenticationError
from kitops.oci.reference import parse_single
from kitops.registry import remote
from kitops.registry.client import RegistryClient
from kitops.registry.remote import NetworkOptions, Remotes
from tests.fakeclock import FakeClock
from tests.helpers import tree_files
from tests.realregistry import Registry
from tests.tokenissuer import PASSWORD, USERNAME, TokenIssuer, decode_jwt

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"
BLOBS = 5  # examples/iris: config + 4 layers
pytestmark = pytest.mark.registry


@pytest.fixture()
def issuer(token_registry: Registry) -> Iterator[TokenIssuer]:
    assert token_registry.token_issuer is not None
    token_registry.token_issuer.reset()
    yield token_registry.token_issuer
    token_registry.token_issuer.reset()


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock the token caches of the clients the API makes age on: every client is made by
    :class:`~kitops.registry.remote.Remotes`, which takes no clock, so its constructor is wrapped."""
    fake = FakeClock()
    monkeypatch.setattr(remote, "RegistryClient", functools.partial(RegistryClient, clock=fake))
    return fake


def _login(reg: Registry, home: Path) -> None:
    api.login(reg.host, username=USERNAME, password=PASSWORD, home=home, network=NetworkOptions())


def _registry_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("kitops.registry")]


def _assert_no_secrets(caplog: pytest.LogCaptureFixture, issuer: TokenIssuer) -> None:
    text = caplog.text + "\n".join(repr(r.args) for r in caplog.records)
    basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert PASSWORD not in text and basic not in text
    signatures = [t.rsplit(".", 1)[1] for t in issuer.tokens]
    assert signatures and not [s for s in signatures if s in text]


@pytest.mark.parametrize("header_mode", ["x5c", "kid"])
def test_registry_accepts_only_tokens_signed_by_the_issuer(
    token_registry: Registry, issuer: TokenIssuer, header_mode: str
) -> None:
    issuer.header_mode = header_mode
    got = httpx.get(
        issuer.realm,
        params={"service": issuer.service, "scope": "repository:test/any:pull"},
        auth=(USERNAME, PASSWORD),
    ).json()
    token = got["token"]
    assert got["access_token"] == token and got["expires_in"] == 300 and got["issued_at"].endswith("Z")
    header, claims = decode_jwt(token)
    assert header["alg"] == "ES256" and (
        ("x5c" in header) if header_mode == "x5c" else header["kid"] == issuer.key_id
    )
    assert claims["aud"] == issuer.service and claims["iss"] == issuer.issuer and claims["sub"] == USERNAME
    assert claims["access"] == [{"type": "repository", "name": "test/any", "actions": ["pull"]}]
    ok = httpx.get(f"{token_registry.url}/v2/", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    # the registry really verifies: a token signed by another key is refused
    stranger = TokenIssuer(header_mode=header_mode)
    forged, _ = stranger._sign(USERNAME, [])
    bad = httpx.get(f"{token_registry.url}/v2/", headers={"Authorization": f"Bearer {forged}"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]


@pytest.mark.parametrize("anonymous_pull", [True, False])
def test_anonymous_push_fails_with_login_hint(
    token_registry: Registry, issuer: TokenIssuer, repo_name: str, home: Path, anonymous_pull: bool
) -> None:
    issuer.anonymous_pull = anonymous_pull
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    with pytest.raises(AuthenticationError) as err:
        api.push("iris:v1", f"{token_registry.host}/{repo_name}:v1", home=home)
    assert f"kit login {token_registry.host}" in (err.value.hint or "")
    assert issuer.requests and all(r.account is None for r in issuer.requests)
    if anonymous_pull:  # a pull-only token, then 401 insufficient_scope on the upload
        pushes = issuer.issued(scope_contains=f"repository:{repo_name}:pull,push")
        assert pushes and all(
            r.granted == [{"type": "repository", "name": repo_name, "actions": ["pull"]}] for r in pushes
        )
    else:  # the token service itself refused
        assert {r.status for r in issuer.requests} == {401}


def test_login_checks_the_password_at_the_token_service(
    token_registry: Registry, issuer: TokenIssuer, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kitops")
    with pytest.raises(AuthenticationError, match="failed to validate"):
        api.login(
            token_registry.host,
            username=USERNAME,
            password="wrong-" + PASSWORD,
            home=home,
            network=NetworkOptions(),
        )
    assert not (home / "credentials.json").exists()
    assert [(r.account, r.status) for r in issuer.requests] == [(None, 401)]  # wrong password: no account
    _login(token_registry, home)
    assert (home / "credentials.json").exists()
    last = issuer.requests[-1]
    assert (last.account, last.status, last.scopes, last.service) == (USERNAME, 200, [], issuer.service)
    _assert_no_secrets(caplog, issuer)


def test_round_trip_with_scoped_and_cached_tokens(
    token_registry: Registry,
    issuer: TokenIssuer,
    repo_name: str,
    home: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _login(token_registry, home)
    caplog.set_level(logging.DEBUG, logger="kitops")
    issuer.reset()
    ref = f"{token_registry.host}/{repo_name}:v1"
    serial = NetworkOptions(concurrency=1)  # exact counts; concurrent uploads: see the next test
    packed = api.pack(EXAMPLE, tag="iris:v1", home=home)
    pushed = api.push("iris:v1", ref, home=home, network=serial)
    assert pushed.descriptor.digest == packed.descriptor.digest
    sent = [m for m in _registry_logs(caplog) if f"/v2/{repo_name}/" in m and " -> " in m]
    # one token per scope for the whole push (~20 registry requests), asked for what each request needs
    pull, push = f"repository:{repo_name}:pull", f"repository:{repo_name}:pull,push"
    assert [(r.account, r.scopes) for r in issuer.requests] == [(USERNAME, [pull]), (USERNAME, [push])]
    assert issuer.requests[1].granted == [
        {"type": "repository", "name": repo_name, "actions": ["pull", "push"]}
    ]
    assert len(sent) >= 3 * BLOBS
    assert len([m for m in sent if "-> 401" in m]) == 1  # only the first, unauthenticated request
    api.remove("iris:v1", home=home)
    issuer.reset()
    pulled = api.pull(ref, home=home)
    assert pulled.descriptor.digest == packed.descriptor.digest
    assert [(r.account, r.scopes, r.status) for r in issuer.requests] == [(USERNAME, [pull], 200)]
    out = tmp_path / "out"
    api.unpack(ref, target_dir=out, home=home)
    assert {k: v for k, v in tree_files(out).items() if k != "Kitfile"} == {
        k: v for k, v in tree_files(EXAMPLE).items() if k != "Kitfile"
    }
    _assert_no_secrets(caplog, issuer)


def test_concurrent_uploads_share_one_token_per_scope(
    token_registry: Registry, issuer: TokenIssuer, repo_name: str, home: Path
) -> None:
    _login(token_registry, home)
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    issuer.reset()
    issuer.delay = 0.2  # a token service that takes 200 ms: the 5 upload threads all wait for a token
    api.push(
        "iris:v1", f"{token_registry.host}/{repo_name}:v1", home=home, network=NetworkOptions(concurrency=5)
    )
    pull, push = f"repository:{repo_name}:pull", f"repository:{repo_name}:pull,push"
    assert [r.scopes for r in issuer.issued()] == [[pull], [push]]  # single flight per scope


def test_cross_repo_mount_requests_source_pull_scope(
    token_registry: Registry,
    issuer: TokenIssuer,
    repo_name: str,
    home: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _login(token_registry, home)
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    api.push("iris:v1", f"{token_registry.host}/{repo_name}:v1", home=home)
    caplog.set_level(logging.DEBUG, logger="kitops")
    issuer.reset()
    other = f"{repo_name}-copy"
    api.push("iris:v1", f"{token_registry.host}/{other}:v1", home=home)
    mount_scope = {f"repository:{other}:pull,push", f"repository:{repo_name}:pull"}
    mounts = [r for r in issuer.requests if set(r.scopes) == mount_scope]
    assert mounts and all(r.status == 200 and len(r.scope_params) == 2 for r in mounts)  # scope= repeated
    assert sorted(mounts[0].granted, key=lambda g: str(g["name"])) == [
        {"type": "repository", "name": repo_name, "actions": ["pull"]},
        {"type": "repository", "name": other, "actions": ["pull", "push"]},
    ]
    logs = _registry_logs(caplog)
    mounted = [
        m for m in logs if "mount=" in m and f"from={repo_name.replace('/', '%2F')}" in m and "-> 201" in m
    ]
    assert len(mounted) == BLOBS, logs
    assert not [
        m for m in logs if "mount=" in m and "-> 401" in m
    ]  # the multi-scope token was right first time
    assert not [m for m in logs if ("PUT" in m and "/blobs/uploads/" in m) or "PATCH" in m]
    assert len(mounts) == 1  # cached under the merged scope, shared by the upload threads


def test_token_the_registry_rejects_is_refreshed(
    token_registry: Registry,
    issuer: TokenIssuer,
    repo_name: str,
    home: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The push-scoped token is dead on arrival (revoked, clock skew): the 401 leads to a new token."""
    _login(token_registry, home)
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    caplog.set_level(logging.DEBUG, logger="kitops")
    issuer.reset()
    issuer.expire_next(1, scope_contains=":pull,push")
    api.push("iris:v1", f"{token_registry.host}/{repo_name}:v1", home=home)
    assert issuer.expired_issued == 1
    rejected = [m for m in _registry_logs(caplog) if "-> 401" in m and f"/v2/{repo_name}/" in m]
    assert rejected  # the registry did refuse it
    assert api.list_remote(f"{token_registry.host}/{repo_name}", home=home)[0].tags == ("v1",)


class _RefusedMidUpload:
    """A Progress that, once, in the middle of a chunked upload, ages every token the client holds
    by an hour on its clock and has the issuer sign the next push token already expired for the
    registry; when that blob is done, the next token (the pull token the manifest HEAD fetches)
    is born expired too.

    The registry's clock cannot be moved and it accepts ``exp`` with a fixed leeway of
    :data:`~tests.tokenissuer.LEEWAY` seconds (not configurable in distribution), so a token it
    refuses without the test waiting must be born refused; the client, told the token lasts
    ``expires_in``, believes it valid and sends it.
    """

    def __init__(self, issuer: TokenIssuer, clock: FakeClock, chunk: int) -> None:
        self.issuer, self.clock, self.chunk = issuer, clock, chunk
        self.totals: dict[str, int] = {}
        self.stalled_on = ""

    def begin(self, key: str, action: str, total: int | None) -> None:
        self.totals[key] = total or 0

    def advance(self, key: str, nbytes: int) -> None:
        if self.stalled_on or self.totals.get(key, 0) <= 3 * self.chunk:
            return
        self.stalled_on = key
        self.issuer.expire_next(1, scope_contains=":pull,push")
        self.clock.advance(3600)

    def end(self, key: str, error: BaseException | None = None) -> None:
        if key == self.stalled_on:  # the push token is fresh now: the next fetch is for pulling
            self.issuer.expire_next(1)


def test_token_refused_mid_upload_is_refreshed_and_the_chunk_sent_again(
    token_registry: Registry,
    issuer: TokenIssuer,
    clock: FakeClock,
    repo_name: str,
    home: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """In the middle of a chunked upload the client's tokens run out; the push token it fetches is
    refused by the registry: the PATCH gets 401, the client fetches another token and sends that
    chunk again. The pull token it fetches for the manifest HEAD is refused too and fetched again.
    One push, no failure."""
    _login(token_registry, home)
    packed = api.pack(EXAMPLE, tag="iris:v1", home=home)
    issuer.reset()
    chunk = 1024
    progress = _RefusedMidUpload(issuer, clock, chunk)
    caplog.set_level(logging.DEBUG, logger="kitops")
    network = NetworkOptions(concurrency=1, upload_mode="chunked", chunk_size=chunk)
    ref = f"{token_registry.host}/{repo_name}:v1"
    api.push("iris:v1", ref, home=home, network=network, progress=progress)
    assert progress.stalled_on and issuer.expired_issued == 2
    logs = [m for m in _registry_logs(caplog) if f"/v2/{repo_name}/" in m and " -> " in m]
    rejected = [i for i, m in enumerate(logs) if "-> 401" in m]
    assert [logs[i].split(" ")[0] for i in rejected] == [
        "HEAD",
        "PATCH",
        "HEAD",
    ]  # first contact, 2 refused tokens
    assert (
        logs[rejected[1] + 1].startswith("PATCH") and "-> 202" in logs[rejected[1] + 1]
    )  # the chunk, sent again
    again = logs[rejected[2] + 1]  # the same HEAD, with the next token: the manifest is not there yet
    assert (
        "/manifests/" in again
        and again.split(" -> ")[0] == logs[rejected[2]].split(" -> ")[0]
        and "-> 404" in again
    )
    pull, push = f"repository:{repo_name}:pull", f"repository:{repo_name}:pull,push"
    # the first two, then per scope: the one fetched because the client's clock ran out, refused,
    # and the one fetched after the 401
    assert [r.scopes for r in issuer.issued()] == [[pull], [push], [push], [push], [pull], [pull]]
    assert api.pull(ref, home=home.parent / "fresh").descriptor.digest == packed.descriptor.digest


@pytest.mark.parametrize(("expires_in", "lifetime"), [(1, 1.0), (300, 290.0)])
def test_expires_in_is_refreshed_before_the_registry_refuses(
    token_registry: Registry,
    issuer: TokenIssuer,
    clock: FakeClock,
    repo_name: str,
    home: Path,
    caplog: pytest.LogCaptureFixture,
    expires_in: int,
    lifetime: float,
) -> None:
    """A token is used until 10 s before ``expires_in`` runs out (at least 1 s), then fetched anew
    before the registry would refuse it: no 401 on the way."""
    _login(token_registry, home)
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    api.push("iris:v1", f"{token_registry.host}/{repo_name}:v1", home=home)
    issuer.reset()
    issuer.expires_in = expires_in
    caplog.set_level(logging.DEBUG, logger="kitops")
    with Remotes(home, NetworkOptions()) as remotes:
        repo = remotes.repository(parse_single(f"{token_registry.host}/{repo_name}:v1"))
        desc = repo.resolve("v1")
        clock.advance(lifetime - 0.25)
        assert repo.resolve("v1") == desc and len(issuer.issued()) == 1  # cached
        clock.advance(0.25)
        assert repo.resolve("v1") == desc
    assert len(issuer.issued()) == 2
    assert (
        len([m for m in _registry_logs(caplog) if "-> 401" in m]) == 1
    )  # only the first, unauthenticated HEAD
