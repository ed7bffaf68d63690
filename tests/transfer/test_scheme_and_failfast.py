"""Which scheme a registry is spoken to in, and failing fast with a useful message.

Loopback registries are tried over verified HTTPS first and fall back to plain HTTP only when they
answer the TLS handshake in plain HTTP (what Docker does); no other host is ever downgraded.
Errors that a retry cannot fix (refused connections, unknown hosts, untrusted certificates) are
reported at once instead of after seconds of back-off.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kitops import api
from kitops.errors import TransferError
from kitops.modelkit.manager import ModelKitManager
from kitops.modelkit.user import UserCredentials
from kitops.registry import client as client_module
from kitops.registry.client import RegistryClient
from kitops.registry.remote import NetworkOptions
from tests.helpers import kit, tree_files
from tests.realregistry import Registry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"


@pytest.fixture(autouse=True)
def fresh_scheme_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without what earlier ones learned about which loopback hosts speak HTTP."""
    monkeypatch.setattr(client_module, "_LOOPBACK_PLAIN", {})


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


# -- loopback TLS with no flags ----------------------------------------------------------------


@pytest.mark.registry
def test_tls_registry_on_loopback_needs_no_flags_cli(
    tls_registry: Registry, repo_name: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private CA in SSL_CERT_FILE is all a TLS registry on 127.0.0.1 needs: login, push, pull."""
    assert tls_registry.ca_file
    monkeypatch.setenv("SSL_CERT_FILE", tls_registry.ca_file)
    ref = f"{tls_registry.host}/{repo_name}:v1"
    login = kit(
        home, "login", tls_registry.host, "-u", "alice", "--password-stdin", input=tls_registry.password
    )
    assert login.exit_code == 0, login.output
    assert kit(home, "pack", str(EXAMPLE), "-t", "iris:v1").exit_code == 0
    pushed = kit(home, "push", "iris:v1", ref)
    assert pushed.exit_code == 0, pushed.output
    assert kit(home, "remove", "iris:v1").exit_code == 0
    out = tmp_path / "out"
    pulled = kit(home, "unpack", ref, "-d", str(out))
    assert pulled.exit_code == 0, pulled.output
    assert (
        tree_files(out)["model/iris-classifier.joblib"]
        == (EXAMPLE / "model/iris-classifier.joblib").read_bytes()
    )


@pytest.mark.registry
def test_tls_registry_on_loopback_sdk_login(
    tls_registry: Registry, repo_name: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tls_registry.ca_file
    monkeypatch.setenv("SSL_CERT_FILE", tls_registry.ca_file)
    creds = UserCredentials(
        username=tls_registry.username, password=tls_registry.password, registry=tls_registry.host
    )
    manager = ModelKitManager(
        working_directory=str(EXAMPLE),
        user_credentials=creds,
        modelkit_tag=f"{tls_registry.host}/{repo_name}:v1",
        home=home,
    )
    manager.login()
    manager.pack_and_push_modelkit(with_login_and_logout=False)
    assert manager.inspect_modelkit(remote=True)["manifest"]["layers"]


@pytest.mark.registry
def test_untrusted_loopback_certificate_is_an_error_not_a_downgrade(
    tls_registry: Registry, home: Path
) -> None:
    """A certificate problem is never "solved" by speaking plain HTTP."""
    with pytest.raises(TransferError) as info:
        api.login(tls_registry.host, username="alice", password=tls_registry.password or "", home=home)
    assert "TLS certificate of" in info.value.message and "not trusted" in info.value.message
    assert "--ca-file" in (info.value.hint or "")
    assert client_module._LOOPBACK_PLAIN == {}


@pytest.mark.registry
def test_plain_registry_on_loopback_falls_back_once(
    plain_registry: Registry, repo_name: str, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG, logger="kitops.registry")
    api.pack(EXAMPLE, tag="iris:v1", home=home)
    api.push("iris:v1", f"{plain_registry.host}/{repo_name}:v1", home=home)
    api.pull(f"{plain_registry.host}/{repo_name}:v1", home=home)
    falls = [r for r in caplog.records if "answers in plain HTTP" in r.getMessage()]
    assert len(falls) == 1  # learned once for the process, not per request or per client
    assert not [r for r in caplog.records if "https://" in r.getMessage() and "->" in r.getMessage()]


@pytest.mark.registry
def test_no_plain_http_forces_https_and_says_why_it_fails(plain_registry: Registry, home: Path) -> None:
    result = kit(
        home, "login", plain_registry.host, "-u", "a", "--password-stdin", "--no-plain-http", input="pw"
    )
    assert result.exit_code == 1
    assert f"{plain_registry.host} answered in plain HTTP, not HTTPS" in result.output
    assert "hint: this registry serves plain HTTP only: add --plain-http" in result.output


def test_plain_http_forces_http() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    client = RegistryClient("127.0.0.1:5000", plain_http=True, transport=httpx.MockTransport(handler))
    client.request("GET", "/v2/", expect=(200,))
    assert seen == ["http://127.0.0.1:5000/v2/"]


def test_remote_host_answering_plain_http_is_never_downgraded() -> None:
    """For any host but loopback a non-TLS answer is an error naming --plain-http, with no HTTP retry."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        try:
            raise ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
        except ssl.SSLError as exc:
            raise httpx.ConnectError(str(exc)) from exc

    client = RegistryClient(
        "registry.example.com", transport=httpx.MockTransport(handler), backoff_base=0.001
    )
    with pytest.raises(TransferError) as info:
        client.request("GET", "/v2/", expect=(200,))
    assert seen == ["https://registry.example.com/v2/"]  # one attempt, no http://, no retries
    assert "registry.example.com answered in plain HTTP, not HTTPS" in info.value.message
    assert "--plain-http" in (info.value.hint or "")


# -- fail fast ---------------------------------------------------------------------------------


def test_connection_refused_fails_at_once_with_a_hint(home: Path) -> None:
    port = _refused_port()
    started = time.monotonic()
    result = kit(home, "login", f"127.0.0.1:{port}", "-u", "a", "--password-stdin", input="pw")
    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert f"connection refused by 127.0.0.1:{port}" in result.output
    assert f"hint: is a registry running at 127.0.0.1:{port}?" in result.output
    assert elapsed < 2.0, f"took {elapsed:.1f}s: refused connections must not be retried"


def test_unknown_host_fails_at_once_with_a_hint(home: Path) -> None:
    started = time.monotonic()
    result = kit(home, "login", "no-such-registry.invalid", "-u", "a", "--password-stdin", input="pw")
    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert "cannot resolve the host name 'no-such-registry.invalid'" in result.output
    assert "hint: check the registry name" in result.output
    assert elapsed < 3.0, f"took {elapsed:.1f}s: DNS failures must not be retried"


def test_transient_failures_are_still_retried() -> None:
    """A reset mid-exchange and a 503 are retried; the request then succeeds."""
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ReadError("connection reset by peer")
        if calls["n"] == 2:
            return httpx.Response(503)
        return httpx.Response(200, json={})

    client = RegistryClient(
        "registry.example.com", transport=httpx.MockTransport(handler), backoff_base=0.001
    )
    assert client.request("GET", "/v2/", expect=(200,)).status_code == 200
    assert calls["n"] == 3


def test_console_script_refused_login_is_fast(tmp_path: Path) -> None:
    """The whole process, as a CI job runs it: refused in well under the old 7.7 s."""
    port = _refused_port()
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kitops.cli.main",
            "--config",
            str(tmp_path),
            "login",
            f"127.0.0.1:{port}",
            "-u",
            "a",
            "--password-stdin",
        ],
        input=b"pw",
        capture_output=True,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert b"connection refused" in proc.stderr
    assert elapsed < 3.0


@pytest.mark.registry
def test_no_tls_verify_on_loopback_still_uses_https(tls_registry: Registry, home: Path) -> None:
    api.login(
        tls_registry.host,
        username="alice",
        password=tls_registry.password or "",
        home=home,
        network=NetworkOptions(tls_verify=False),
    )
    assert client_module._LOOPBACK_PLAIN == {}


@pytest.mark.parametrize("proxy", ["not a url", "ftp://proxy.example.com", "http://[::1", "://"])
def test_a_bad_proxy_url_is_a_usage_error(home: Path, proxy: str) -> None:
    result = kit(home, "pull", "registry.example.com/a/b:v1", "--proxy", proxy)
    assert result.exit_code == 2, result.output
    assert f"invalid proxy URL {proxy!r}" in result.output
    assert "hint: give the proxy as a URL" in result.output and "unexpected error" not in result.output


def test_an_unreachable_proxy_is_named(home: Path) -> None:
    port = _refused_port()
    result = kit(home, "pull", "registry.example.com/a/b:v1", "--proxy", f"http://127.0.0.1:{port}")
    assert result.exit_code == 1
    assert f"cannot connect to the proxy http://127.0.0.1:{port}" in result.output


@pytest.mark.registry
def test_parallel_first_requests_to_a_plain_loopback_registry_all_fall_back(plain_registry: Registry) -> None:
    """Several threads' first requests go out over HTTPS at once; the first to fail switches the
    client to HTTP, and the others, which failed over HTTPS meanwhile, retry in HTTP too
    instead of reporting "answered in plain HTTP"."""
    import threading

    client = RegistryClient(plain_registry.host)
    start = threading.Barrier(8)
    errors: list[BaseException] = []
    statuses: list[int] = []

    def first_request() -> None:
        start.wait()
        try:
            statuses.append(client.request("GET", "/v2/", expect=(200,)).status_code)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    client.close()
    assert errors == []
    assert statuses == [200] * 8
    assert client.scheme == "http"
