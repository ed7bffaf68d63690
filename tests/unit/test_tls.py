"""The deferred system-trust context: same settings as the stdlib's, CA bundle loaded before any handshake."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from kitops.errors import UsageError
from kitops.registry.tls import DeferredTrustContext, TLSOptions

SETTINGS = (
    "protocol",
    "verify_mode",
    "check_hostname",
    "options",
    "verify_flags",
    "minimum_version",
    "maximum_version",
    "post_handshake_auth",
    "hostname_checks_common_name",
)


def test_settings_match_create_default_context() -> None:
    ours, stdlib = DeferredTrustContext.create(), ssl.create_default_context()
    assert {k: getattr(ours, k) for k in SETTINGS} == {k: getattr(stdlib, k) for k in SETTINGS}
    assert ours.verify_mode == ssl.CERT_REQUIRED and ours.check_hostname


def test_certificates_are_loaded_by_the_first_handshake_not_before() -> None:
    ctx = DeferredTrustContext.create()
    assert ctx.cert_store_stats()["x509_ca"] == 0
    ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="registry.example")
    expected = ssl.create_default_context().cert_store_stats()["x509_ca"]
    assert ctx.cert_store_stats()["x509_ca"] == expected


def test_no_ca_file_means_the_deferred_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    assert isinstance(TLSOptions().ssl_context(), DeferredTrustContext)
    unverified = TLSOptions(tls_verify=False).ssl_context()
    assert unverified.verify_mode == ssl.CERT_NONE and not unverified.check_hostname


def test_ssl_cert_file_is_deferred_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = Path(ssl.get_default_verify_paths().openssl_cafile)
    if not bundle.is_file():
        bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    ctx = TLSOptions().ssl_context()
    assert isinstance(ctx, DeferredTrustContext) and ctx.cert_store_stats()["x509_ca"] == 0
    ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="registry.example")
    assert (
        ctx.cert_store_stats()["x509_ca"]
        == ssl.create_default_context(cafile=str(bundle)).cert_store_stats()["x509_ca"]
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(UsageError, match=r"cannot read CA file .*missing.pem \(from SSL_CERT_FILE\)"):
        TLSOptions().ssl_context()


def test_a_bad_ca_file_fails_at_once(tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_text("not a certificate")
    for path in ("/nonexistent/ca.pem", str(tmp_path / "bad.pem")):
        with pytest.raises(UsageError, match="cannot read CA file"):
            TLSOptions(ca_file=path).ssl_context()
