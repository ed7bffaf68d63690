"""A Docker token server (the ``auth.token`` realm of distribution) for the real-registry tests.

Protocol (distribution docs/spec/auth/token.md and jwt.md): the registry answers 401 with
``WWW-Authenticate: Bearer realm="http://127.0.0.1:PORT/token",service="...",scope="..."``; the
client sends ``GET /token?service=...&scope=repository:NAME:pull,push`` (``scope`` may repeat),
with Basic credentials when it has them, and receives
``{"token", "access_token", "expires_in", "issued_at"}``.

Policy (fixed, documented here):

* one user, :data:`USERNAME` / :data:`PASSWORD`, who may ``pull``, ``push`` and ``delete`` every
  repository;
* anonymous requests are *allowed* and get ``pull`` only (Docker Hub style): an anonymous push
  therefore gets a token without ``push`` and the registry answers 401 ``insufficient_scope``;
  set ``anonymous_pull = False`` to refuse anonymous requests with 401 instead;
* wrong credentials always get 401, even for a pull;
* only what was asked *and* is allowed is granted; other resource types get nothing.

Tokens are ES256 JWTs signed with a P-256 key made at start. distribution 2.8
(``registry/auth/token/token.go``, ``VerifySigningKey``) looks for the signing key in the JWT
header in this order: ``x5c`` (a chain verified against ``auth.token.rootcertbundle``), ``jwk``,
then ``kid`` (a libtrust key ID looked up among the public keys of the bundle's certificates).
The bundle is one self-signed certificate of the signing key, so both ``x5c`` (default) and
``kid`` headers are accepted (``header_mode``). The signature is JOSE's raw ``r || s``.
distribution accepts ``exp``/``nbf`` with :data:`LEEWAY` seconds of clock skew, a constant of
its token package that no configuration changes.

Knobs for tests: ``expires_in`` (what the client is told), ``delay`` (hold each answer back),
:meth:`expire_next` (hand out tokens the registry already rejects: as if they had been revoked or
the clock had moved), and :attr:`requests` to count and inspect token fetches. Tokens are
verified offline by the registry, so an issued token cannot be revoked, and one that is valid
dies no sooner than ``LEEWAY`` seconds after its ``exp``: a test that needs the registry to
refuse a token has it born refused with :meth:`expire_next` (and ages the client's tokens on an
injected clock), rather than waiting for one to die.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

USERNAME = "bob"
PASSWORD = "t0ken-s3cret-pass"
SERVICE = "kitops-test-registry"
ISSUER = "kitops-test-token-issuer"
LEEWAY = 60  # seconds distribution adds to exp (and subtracts from nbf)
USER_ACTIONS = frozenset({"pull", "push", "delete"})
ANONYMOUS_ACTIONS = frozenset({"pull"})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def libtrust_key_id(der_spki: bytes) -> str:
    """libtrust's ``KeyID()``: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32, in 4-char groups."""
    b32 = base64.b32encode(hashlib.sha256(der_spki).digest()[:30]).decode()
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """``type:name:actions`` -> (type, name, actions); the name may itself contain ':' (a port)."""
    rtype, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and rtype and name):
        return None
    return rtype, name, [a for a in actions.split(",") if a]


def decode_jwt(token: str) -> tuple[dict[str, object], dict[str, object]]:
    """(header, claims) of a compact JWT, unverified: for assertions in tests."""
    header, claims, _sig = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(claims))


@dataclass
class TokenRequest:
    """One request the issuer saw."""

    account: str | None  # None: anonymous
    service: str
    scopes: list[str]
    status: int
    granted: list[dict[str, object]] = field(default_factory=list)
    scope_params: list[str] = field(default_factory=list)  # the raw ``scope=`` values, as sent
    token: str = field(default="", repr=False)


class TokenIssuer:
    """The token server; ``start()`` binds 127.0.0.1 on a free port and serves from a thread."""

    def __init__(
        self,
        *,
        service: str = SERVICE,
        issuer: str = ISSUER,
        username: str = USERNAME,
        password: str = PASSWORD,
        anonymous_pull: bool = True,
        expires_in: int = 300,
        header_mode: str = "x5c",
    ) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        if header_mode not in ("x5c", "kid"):
            raise ValueError(f"header_mode must be x5c or kid, not {header_mode!r}")
        self.service = service
        self.issuer = issuer
        self.username = username
        self.password = password
        self._defaults = (anonymous_pull, expires_in, header_mode)
        self.anonymous_pull = anonymous_pull
        self.expires_in = expires_in
        self.header_mode = header_mode
        self.delay = 0.0  # seconds each token response is held back (to make concurrent fetches overlap)
        self._expire_next = 0
        self._expire_filter = ""
        self.expired_issued = 0  # how many born-expired tokens were handed out
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._cert_der, self._cert_pem = self._self_signed_cert()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- keys ---------------------------------------------------------------------------------
    def _self_signed_cert(self) -> tuple[bytes, bytes]:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import NameOID

        now = dt.datetime.now(dt.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kitops test token signer")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.DER), cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_id(self) -> str:
        from cryptography.hazmat.primitives import serialization

        spki = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return libtrust_key_id(spki)

    def write_rootcertbundle(self, path: Path) -> Path:
        path.write_bytes(self._cert_pem)
        return path

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "start() the issuer first"
        return int(self._server.server_address[1])

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def start(self) -> TokenIssuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                status, body, headers = issuer.handle(self.path, self.headers.get("Authorization"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="token-issuer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    # -- test controls ------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the constructor's settings, with an empty request log."""
        with self._lock:
            self.requests.clear()
            self._expire_next = 0
            self._expire_filter = ""
            self.expired_issued = 0
            self.delay = 0.0
            self.anonymous_pull, self.expires_in, self.header_mode = self._defaults

    def expire_next(self, count: int = 1, *, scope_contains: str = "") -> None:
        """The next ``count`` tokens (for a scope containing ``scope_contains``) are born expired for
        the registry, while the client is told ``expires_in`` as usual: the registry answers 401
        ``invalid_token``, as for a revoked token or a skewed clock."""
        with self._lock:
            self._expire_next = count
            self._expire_filter = scope_contains

    def issued(self, *, scope_contains: str = "", account: str | bool | None = True) -> list[TokenRequest]:
        """Successful fetches, optionally those asking for a scope containing ``scope_contains``
        (``account=True`` means any account)."""
        with self._lock:
            reqs = list(self.requests)
        return [
            r
            for r in reqs
            if r.status == 200
            and (not scope_contains or any(scope_contains in s for s in r.scopes))
            and (account is True or r.account == account)
        ]

    @property
    def tokens(self) -> list[str]:
        with self._lock:
            return [r.token for r in self.requests if r.token]

    # -- the endpoint -------------------------------------------------------------------------
    def _authenticate(self, authorization: str | None) -> tuple[bool, str | None]:
        """(ok, account); ok is False for wrong or malformed credentials."""
        if not authorization:
            return True, None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False, None
        good = hmac.compare_digest(user.encode(), self.username.encode()) & hmac.compare_digest(
            password.encode(), self.password.encode()
        )
        return (bool(sep) and good), (user if good else None)

    def handle(self, path: str, authorization: str | None) -> tuple[int, bytes, dict[str, str]]:
        parts = urlsplit(path)
        if parts.path != "/token":
            return 404, b'{"details":"not found"}', {"Content-Type": "application/json"}
        query = parse_qs(parts.query, keep_blank_values=True)
        service = (query.get("service") or [""])[0]
        scopes = [s for item in query.get("scope", []) for s in item.split(" ") if s]
        ok, account = self._authenticate(authorization)
        record = TokenRequest(account, service, scopes, 0, scope_params=list(query.get("scope", [])))
        challenge = {"WWW-Authenticate": f'Basic realm="{self.realm}"', "Content-Type": "application/json"}
        if not ok:
            status, body, headers = 401, b'{"details":"invalid username or password"}', challenge
        elif account is None and not self.anonymous_pull:
            status, body, headers = 401, b'{"details":"authentication required"}', challenge
        elif service != self.service:
            status, body, headers = (
                400,
                b'{"details":"unknown service"}',
                {"Content-Type": "application/json"},
            )
        else:
            allowed = USER_ACTIONS if account is not None else ANONYMOUS_ACTIONS
            record.granted = self._grant(scopes, allowed)
            with self._lock:
                born_expired = self._expire_next > 0 and (
                    not self._expire_filter or any(self._expire_filter in s for s in scopes)
                )
                if born_expired:
                    self._expire_next -= 1
                    self.expired_issued += 1
            record.token, issued_at = self._sign(account or "", record.granted, born_expired=born_expired)
            status = 200
            body = json.dumps(
                {
                    "token": record.token,
                    "access_token": record.token,
                    "expires_in": self.expires_in,
                    "issued_at": issued_at,
                }
            ).encode()
            headers = {"Content-Type": "application/json"}
        record.status = status
        with self._lock:
            self.requests.append(record)
            delay = self.delay
        if delay:
            time.sleep(delay)
        return status, body, headers

    @staticmethod
    def _grant(scopes: list[str], allowed: frozenset[str]) -> list[dict[str, object]]:
        by_name: dict[tuple[str, str], list[str]] = {}
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None or parsed[0] != "repository":
                continue
            rtype, name, actions = parsed
            acts = by_name.setdefault((rtype, name), [])
            for a in actions:
                if (a in allowed or (a == "*" and allowed == USER_ACTIONS)) and a not in acts:
                    acts.append(a)
        return [{"type": t, "name": n, "actions": a} for (t, n), a in by_name.items() if a]

    def _sign(
        self, subject: str, access: list[dict[str, object]], *, born_expired: bool = False
    ) -> tuple[str, str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        now = time.time()
        with self._lock:
            expires_in = self.expires_in
            mode = self.header_mode
        # a born-expired token is an hour past what the registry's leeway forgives
        exp = int(now) - LEEWAY - 3600 if born_expired else int(now) + expires_in
        header: dict[str, object] = {"typ": "JWT", "alg": "ES256"}
        if mode == "x5c":
            header["x5c"] = [base64.b64encode(self._cert_der).decode()]
        else:
            header["kid"] = self.key_id
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": exp,
            "nbf": int(now) - 1,
            "iat": int(now),
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        issued_at = dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return f"{signing_input}.{b64url(signature)}", issued_at
