"""Start Debian's docker-registry (CNCF distribution) on 127.0.0.1: plain, htpasswd, TLS or token auth.

The one launcher of the real registry: the test fixtures (tests/conftest.py), the benchmark
(bench/run.py) and the demo (scripts/demo.py) all start it here. The scripts import this module
with the repository root on ``sys.path`` and nothing but the venv, so it needs only the standard
library at import time; the TLS variant needs ``cryptography``, the Basic-auth one ``htpasswd``.
It never skips or fails a test itself: the fixtures decide that (see :data:`MISSING`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.tokenissuer import TokenIssuer

BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
MISSING = "docker-registry is not installed (apt-get install docker-registry; scripts/setup.sh does it)"
CONFIG = "registry.yml"
LOG = "registry.log"


class RegistryStartError(RuntimeError):
    """The registry is not installed, or did not answer on any of the ports tried."""


@dataclass
class Registry:
    host: str
    scheme: str
    storage: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    token_issuer: TokenIssuer | None = None  # the realm, when the registry uses token auth

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def blob_path(self, digest: str) -> Path:
        hexpart = digest.split(":", 1)[1]
        return (
            self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexpart[:2] / hexpart / "data"
        )


def installed() -> bool:
    return os.path.exists(BINARY)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost, made with cryptography."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kitops test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


def _answers(url: str, ca_file: str | None) -> bool:
    """Whether the registry's API root answers (200, or 401 behind auth); proxies in the
    environment are bypassed, as the registry is on the loopback."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if ca_file:
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca_file)))
    try:
        with urllib.request.build_opener(*handlers).open(url, timeout=1) as resp:
            return int(resp.status) == 200
    except urllib.error.HTTPError as err:
        err.close()
        return err.code == 401
    except OSError:
        return False


def start_registry(
    directory: Path,
    *,
    storage: Path | None = None,
    basic_auth: bool = False,
    tls: bool = False,
    token_auth: TokenIssuer | None = None,
    log_level: str = "warn",
    timeout: float = 15.0,
) -> Registry:
    """Start a registry whose configuration, log and credentials live in ``directory`` and whose
    blobs live in ``storage`` (``directory/data`` by default), with deletes enabled.

    ``token_auth`` is a started :class:`~tests.tokenissuer.TokenIssuer` to use as the Bearer realm
    (its life is the caller's: stop it after the registry). Raises :class:`RegistryStartError`
    when the binary is missing or the registry does not answer within ``timeout`` seconds.
    """
    if not installed():
        raise RegistryStartError(MISSING)
    if basic_auth and token_auth is not None:
        raise ValueError("basic_auth and token_auth are exclusive")
    directory.mkdir(parents=True, exist_ok=True)
    storage = storage or directory / "data"
    # Upload purging off: its periodic walk deletes week-old uploads, which no run here lives long
    # enough to leave, so it would only be one more writer to the storage the tests inspect.
    lines = [
        "version: 0.1",
        "log:",
        f"  level: {log_level}",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage}",
        "  delete:",
        "    enabled: true",
        "  maintenance:",
        "    uploadpurging:",
        "      enabled: false",
    ]
    username = password = ca_file = None
    if basic_auth:
        username, password = "alice", "s3cret-pass"
        out = subprocess.run(
            ["htpasswd", "-nbB", username, password], capture_output=True, text=True, check=True
        )
        (directory / "htpasswd").write_text(out.stdout.strip() + "\n")
        lines += ["auth:", "  htpasswd:", "    realm: kitops-test", f"    path: {directory / 'htpasswd'}"]
    if token_auth is not None:
        username, password = token_auth.username, token_auth.password
        bundle = token_auth.write_rootcertbundle(directory / "token-signer.pem")
        lines += [
            "auth:",
            "  token:",
            f"    realm: {token_auth.realm}",
            f"    service: {token_auth.service}",
            f"    issuer: {token_auth.issuer}",
            f"    rootcertbundle: {bundle}",
        ]
    tls_lines: list[str] = []
    if tls:
        ca, cert, key = make_tls(directory)
        ca_file = str(ca)
        tls_lines = ["  tls:", f"    certificate: {cert}", f"    key: {key}"]
    scheme = "https" if tls else "http"
    config, log = directory / CONFIG, directory / LOG
    last_log = ""
    # The free port is only free until the registry binds it: another process may take it in
    # between, so a registry that exits at once is started again on another port.
    for _attempt in range(5):
        port = _free_port()
        config.write_text("\n".join([*lines, "http:", f"  addr: 127.0.0.1:{port}", *tls_lines]) + "\n")
        with log.open("wb") as log_file:  # the child holds its own descriptor
            proc = subprocess.Popen([BINARY, "serve", str(config)], stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(f"{scheme}://127.0.0.1:{port}/v2/", ca_file):
                return Registry(
                    f"127.0.0.1:{port}", scheme, storage, proc, username, password, ca_file, token_auth
                )
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        last_log = log.read_text(errors="replace")[-2000:]
    raise RegistryStartError(f"docker-registry did not answer on 127.0.0.1 ({log}):\n{last_log}")
