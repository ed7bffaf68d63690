"""The HTTP layer of the registry client: auth, retries, redirects, TLS, logging without secrets.

``RegistryClient.request`` is the one place requests are sent. It re-sends a
request (from a rewindable :class:`Body`) after a 401 with fresh credentials —
also in the middle of a multi-GB upload — and on 429/5xx/connection errors with
backoff and jitter, honouring ``Retry-After``; it follows redirects itself and
drops credentials whenever the host changes.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import httpx

from kitops._version import __version__
from kitops.errors import AuthenticationError, TransferError, UsageError
from kitops.registry import directbody
from kitops.registry.auth import Credential, TokenCache, merge_scopes, parse_challenges, redact_url
from kitops.registry.errors import (
    answered_in_plain_http,
    is_retryable,
    raise_for_response,
    read_error_body,
    transport_error,
)
from kitops.registry.tls import TLSOptions

log = logging.getLogger(__name__)

USER_AGENT = f"kitops-cli/{__version__} (python)"
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
MAX_REDIRECTS = 5
CHUNK = 1 << 20

CredentialLookup = Callable[[str], Credential | None]

# Loopback registries found to speak plain HTTP in this process (host -> True), so that only the
# first client for a host pays the failed TLS handshake.
_LOOPBACK_PLAIN: dict[str, bool] = {}


PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def _check_proxy(proxy: str) -> None:
    """A proxy URL httpx can use, or a usage error that says what a good one looks like."""
    hint = "give the proxy as a URL, e.g. --proxy http://proxy.example.com:3128"
    try:
        url = httpx.URL(proxy)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise UsageError(f"invalid proxy URL {proxy!r}: {exc}", hint=hint) from None
    if url.scheme not in PROXY_SCHEMES or not url.host:
        raise UsageError(
            f"invalid proxy URL {proxy!r}: it needs a scheme ({', '.join(PROXY_SCHEMES)}) and a host",
            hint=hint,
        )


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1 : host.index("]")]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def api_host(registry: str) -> str:
    """``docker.io`` is served from ``registry-1.docker.io``."""
    return "registry-1.docker.io" if registry in ("docker.io", "index.docker.io") else registry


class Body:
    """A request body that can be sent again: bytes, or ``length`` bytes of a stream from ``opener(offset)``."""

    def __init__(
        self,
        *,
        data: bytes | None = None,
        opener: Callable[[int], BinaryIO] | None = None,
        offset: int = 0,
        length: int | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.data = data
        self.opener = opener
        self.offset = offset
        self.length = len(data) if data is not None else (length or 0)
        self.on_bytes = on_bytes
        self.sent = 0  # bytes handed to the transport in the current attempt

    def __iter__(self) -> Iterator[bytes]:
        self.sent = 0
        if self.data is not None:
            yield self.data
            self.sent = len(self.data)
            return
        assert self.opener is not None
        remaining = self.length
        src = self.opener(self.offset)
        try:
            while remaining:
                chunk = src.read(min(CHUNK * 4, remaining))
                if not chunk:
                    raise TransferError(f"source ended {remaining} bytes early while uploading")
                remaining -= len(chunk)
                self.sent += len(chunk)
                if self.on_bytes is not None:
                    self.on_bytes(len(chunk))
                yield chunk
        finally:
            src.close()


class RegistryClient:
    """One registry host: connection pool, credentials and token cache shared by its repositories."""

    def __init__(
        self,
        registry: str,
        *,
        plain_http: bool | None = None,
        tls: TLSOptions | None = None,
        proxy: str | None = None,
        credentials: CredentialLookup | None = None,
        transport: httpx.BaseTransport | None = None,
        max_retries: int = 5,
        backoff_base: float = 0.25,
        backoff_max: float = 8.0,
        concurrency: int = 5,
        direct_body: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``direct_body`` sends blob downloads on connections of their own (see
        :mod:`kitops.registry.directbody`); None takes ``KITOPS_DIRECT_BODY`` (on by default). A
        given ``transport`` (tests' mock transports) is used as it is. Bearer tokens age on
        ``clock`` (tests pass a fake one)."""
        self.registry = registry
        self.host = api_host(registry)
        # HTTPS unless told otherwise. A loopback registry (a dev setup: kind, zot, distribution)
        # may serve either, so as Docker does it is tried over HTTPS first and spoken to in plain
        # HTTP only when it answers the TLS handshake in plain HTTP; no other host is downgraded.
        self._may_downgrade = plain_http is None and is_loopback(self.host)
        if plain_http is None:
            plain_http = self._may_downgrade and _LOOPBACK_PLAIN.get(self.host, False)
        self._set_scheme("http" if plain_http else "https")
        self._lookup = credentials
        self._credential: Credential | None = None
        self._credential_loaded = False
        self._tokens = TokenCache(clock)
        self._bearer: tuple[str, str] | None = None  # (realm, service) once the registry asked for Bearer
        self._basic = False
        self._lock = threading.Lock()
        self._token_locks: dict[str, threading.Lock] = {}
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        if proxy is not None:
            _check_proxy(proxy)
        self._proxy = proxy
        ssl_context = (tls or TLSOptions()).ssl_context()
        limits = httpx.Limits(
            max_connections=max(10, concurrency * 2), max_keepalive_connections=max(10, concurrency * 2)
        )
        if transport is None:
            transport = httpx.HTTPTransport(verify=ssl_context, limits=limits)
            if directbody.enabled_by_environment() if direct_body is None else direct_body:
                transport = directbody.DirectBodyTransport(transport, ssl_context)
        self.direct_body = isinstance(transport, directbody.DirectBodyTransport)
        self._http = httpx.Client(
            transport=transport,
            verify=ssl_context,  # for the proxy transports httpx mounts (--proxy, HTTPS_PROXY)
            proxy=proxy,
            trust_env=True,
            follow_redirects=False,
            timeout=httpx.Timeout(connect=30.0, read=300.0, write=300.0, pool=120.0),
            limits=limits,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._http.close()

    def _set_scheme(self, scheme: str) -> None:
        self.scheme = scheme
        self.base_url = f"{scheme}://{self.host}"

    def _downgrade(self, url: str, exc: BaseException) -> bool:
        """Switch a loopback registry that answered TLS in plain HTTP to HTTP; remembered for the process.

        True also when another thread switched it while this request was out over HTTPS (parallel
        first requests): the caller rebuilds its URL instead of failing on the plain-HTTP answer."""
        if not (
            self._may_downgrade and url.startswith(f"https://{self.host}/") and answered_in_plain_http(exc)
        ):
            return False
        with self._lock:
            if self.scheme == "https":
                _LOOPBACK_PLAIN[self.host] = True
                self._set_scheme("http")
                log.debug("%s answers in plain HTTP: using http://", self.host)
        return True

    # -- credentials ----------------------------------------------------------------------------
    def credential(self) -> Credential | None:
        with self._lock:
            if not self._credential_loaded:
                self._credential = self._lookup(self.registry) if self._lookup else None
                self._credential_loaded = True
            return self._credential

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        default = 443 if parts.scheme == "https" else 80
        base = urlsplit(self.base_url)
        base_default = 443 if base.scheme == "https" else 80
        return (parts.hostname, parts.port or default) == (base.hostname, base.port or base_default)

    def _auth_header(self, scope: str) -> str | None:
        cred = self.credential()
        if self._basic and cred is not None and not cred.empty:
            return cred.basic_header()
        if self._bearer is not None:
            realm, service = self._bearer
            token = self._tokens.get(realm, service, scope)
            if token is None:
                with self._token_lock(scope):  # single flight: parallel uploads share one token fetch
                    token = self._tokens.get(realm, service, scope) or self._fetch_token(
                        realm, service, scope
                    )
            return f"Bearer {token}"
        return None

    def _token_lock(self, scope: str) -> threading.Lock:
        with self._lock:
            return self._token_locks.setdefault(scope, threading.Lock())

    def _authenticate(self, header: str, scope: str) -> None:
        challenges = parse_challenges(header)
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        if bearer is not None:
            realm = bearer.params.get("realm", "")
            service = bearer.params.get("service", "")
            if not realm:
                raise AuthenticationError("registry sent a Bearer challenge without a realm")
            merged = merge_scopes(scope, bearer.params.get("scope", ""))
            self._bearer = (realm, service)
            self._tokens.drop(realm, service, merged)
            self._fetch_token(realm, service, merged, cache_scope=scope)
            return
        if any(c.scheme == "basic" for c in challenges) or not challenges:
            cred = self.credential()
            if cred is None or cred.empty:
                raise AuthenticationError(
                    f"{self.registry} requires authentication",
                    hint=f"run 'kit login {self.registry}'",
                    status=401,
                )
            if not (cred.username and cred.password):
                raise AuthenticationError(
                    "missing username or password for basic auth", hint=f"run 'kit login {self.registry}'"
                )
            if self._basic:
                raise AuthenticationError(
                    f"{self.registry} rejected the stored credentials",
                    hint=f"run 'kit login {self.registry}' again",
                    status=401,
                )
            self._basic = True
            return
        raise AuthenticationError(f"unsupported authentication challenge: {header[:80]}")

    def _fetch_token(self, realm: str, service: str, scope: str, *, cache_scope: str | None = None) -> str:
        cred = self.credential()
        if cred is not None and cred.registry_token:
            return cred.registry_token
        params: list[tuple[str, str | int | float | bool | None]] = []
        if service:
            params.append(("service", service))
        for item in scope.split():
            params.append(("scope", item))
        headers = {}
        try:
            if cred is not None and cred.identity_token:
                form = {
                    "grant_type": "refresh_token",
                    "refresh_token": cred.identity_token,
                    "service": service,
                    "client_id": "kitops",
                    "scope": scope,
                }
                request = self._http.build_request("POST", realm, data=form)
            else:
                if cred is not None and cred.username and cred.password:
                    headers["Authorization"] = cred.basic_header()
                request = self._http.build_request("GET", realm, params=params, headers=headers)
            resp = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise TransferError(f"cannot reach the token service {redact_url(realm)}: {exc}") from None
        log.debug("GET %s -> %d (token)", redact_url(realm), resp.status_code)
        try:
            if resp.status_code in (401, 403):
                raise AuthenticationError(
                    f"the token service refused the credentials for {self.registry} ({resp.status_code})",
                    status=resp.status_code,
                    hint=f"run 'kit login {self.registry}'",
                )
            if resp.status_code != 200:
                raise_for_response(
                    resp, method="GET", url=redact_url(realm), host=self.registry, body=read_error_body(resp)
                )
            resp = _read_small(
                resp, "GET", redact_url(realm)
            )  # a token answer is small; a huge one is refused
        finally:
            resp.close()
        try:
            body = json.loads(resp.content)
            token = body.get("token") or body.get("access_token")
            expires = float(body.get("expires_in") or 60)
        except (ValueError, AttributeError):
            token, expires = None, 0.0
        if not token:
            raise AuthenticationError(f"the token service of {self.registry} returned no token")
        self._tokens.put(realm, service, cache_scope or scope, str(token), expires)
        if cache_scope and cache_scope != scope:
            self._tokens.put(realm, service, scope, str(token), expires)
        return str(token)

    # -- requests -----------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def _full_url(self, path: str, params: dict[str, str] | None) -> str:
        url = self.url(path)
        return str(httpx.URL(url).copy_merge_params(params)) if params else url

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str = "",
        headers: dict[str, str] | None = None,
        body: Body | bytes | None = None,
        params: dict[str, str] | None = None,
        stream: bool = False,
        expect: tuple[int, ...] | None = None,
        repo: str = "",
        retry: bool = True,
        large_body: bool = False,
    ) -> httpx.Response:
        """Send with auth, redirects and (when ``retry`` and the body allows) retries.

        ``retry=False`` is for requests whose partial effect cannot be repeated blindly
        (a PATCH that may have appended half a chunk): the caller resynchronises.
        ``large_body`` marks a GET whose body is a blob, sent on a connection of its own when
        the direct path is on (the response's ``DIRECT_BODY`` extension then holds the body).
        """
        url = self._full_url(path, params)
        if isinstance(body, bytes):
            body = Body(data=body)
        attempt = 0
        auth_retried = False
        redirects = 0
        while True:
            hdrs = dict(headers or {})
            if self._same_origin(url):
                auth = self._auth_header(scope)
                if auth:
                    hdrs["Authorization"] = auth
            if body is not None:
                hdrs["Content-Length"] = str(body.length)
            request = self._http.build_request(
                method,
                url,
                headers=hdrs,
                content=iter(body) if body is not None else None,
                extensions={directbody.DIRECT_BODY: True} if large_body else None,
            )
            started = time.monotonic()
            try:
                resp = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                if self._downgrade(url, exc):
                    url = self._full_url(path, params)
                    continue
                if retry and attempt < self.max_retries and is_retryable(exc):
                    attempt += 1
                    delay = self._backoff(attempt)
                    log.debug(
                        "%s %s failed (%s); retry %d in %.1fs", method, redact_url(url), exc, attempt, delay
                    )
                    time.sleep(delay)
                    continue
                raise transport_error(
                    exc,
                    method=method,
                    url=redact_url(url),
                    host=self.registry,
                    proxy=redact_url(self._proxy) if self._proxy else None,
                ) from None
            log.debug(
                "%s %s -> %d -- %.0f ms",
                method,
                redact_url(url),
                resp.status_code,
                (time.monotonic() - started) * 1000,
            )
            status = resp.status_code
            if status in (301, 302, 303, 307, 308) and "location" in resp.headers:
                resp.close()
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise TransferError(f"{method} {redact_url(url)}: too many redirects")
                target = urljoin(url, resp.headers["location"])
                if urlsplit(target).scheme not in ("http", "https"):
                    raise TransferError(f"refusing redirect to {redact_url(target)}")
                url = target
                if status == 303:
                    method, body = "GET", None
                continue
            error_body: bytes | None = None  # read (bounded) only where it decides something
            expired = False
            if (
                status == 403
                and not auth_retried
                and self._same_origin(url)
                and _may_have_body(method, status)
            ):
                error_body = read_error_body(resp)
                expired = _ecr_token_expired(error_body)
            if (status == 401 or expired) and not auth_retried and self._same_origin(url):
                header = resp.headers.get("www-authenticate", "")
                resp.close()
                auth_retried = True
                self._drop_tokens(scope)
                if header:
                    self._authenticate(header, scope)
                elif status == 403:
                    self._basic = False
                    self._authenticate("Basic", scope)
                continue
            if status in RETRY_STATUSES and retry and attempt < self.max_retries:
                attempt += 1
                delay = self._retry_after(resp) or self._backoff(attempt)
                resp.close()  # never read a failed answer's body whole: it may be huge
                log.debug("%s %s -> %d; retry %d in %.1fs", method, redact_url(url), status, attempt, delay)
                time.sleep(delay)
                continue
            if expect is not None and status not in expect:
                raise_for_response(
                    resp, method=method, url=redact_url(url), host=self.registry, repo=repo, body=error_body
                )
            if not stream:
                try:
                    resp = _read_small(resp, method, redact_url(url))
                finally:
                    resp.close()
            return resp

    def _drop_tokens(self, scope: str) -> None:
        if self._bearer is not None:
            realm, service = self._bearer
            self._tokens.drop(realm, service, scope)

    def _backoff(self, attempt: int) -> float:
        base = min(self.backoff_base * (2 ** (attempt - 1)), self.backoff_max)
        return float(base * random.uniform(0.9, 1.1))  # jitter, not crypto

    def _retry_after(self, resp: httpx.Response) -> float | None:
        value = resp.headers.get("retry-after")
        if not value:
            return None
        try:
            return float(min(max(float(value), 0.0), 60.0))
        except ValueError:
            return None


MAX_BODY = 16 << 20  # a response read whole (JSON, a tag page, an error) is never larger than this


def _read_small(resp: httpx.Response, method: str, url: str) -> httpx.Response:
    """The answer with its body read (``.content`` works), refusing one that is too big: blobs
    are always streamed, so a large body here is a broken or hostile registry."""
    if resp.is_stream_consumed:  # buffered already (a mock transport's response)
        return resp
    if not _may_have_body(method, resp.status_code):
        # A HEAD's Content-Length is the size of the blob it describes (hundreds of MiB for a
        # layer), not of a body; 1xx/204/304 carry none either. h11 frames these as empty.
        resp.read()
        return resp
    length = resp.headers.get("content-length")
    if length is not None and length.isdigit():
        if int(length) > MAX_BODY:
            raise TransferError(
                f"{method} {url}: the registry sent a {int(length)}-byte answer, over the "
                f"{MAX_BODY}-byte limit for metadata",
                hint="check the registry address",
            )
        resp.read()  # HTTP/1.1 framing stops at Content-Length
        return resp
    chunks, total = [], 0
    for chunk in resp.iter_bytes():  # no length given: count as it comes
        total += len(chunk)
        if total > MAX_BODY:
            raise TransferError(
                f"{method} {url}: the registry's answer is over the {MAX_BODY}-byte limit for metadata",
                hint="check the registry address",
            )
        chunks.append(chunk)
    # httpx has no public way to hand a response a body read in pieces: answer a new one with it
    framing = ("content-encoding", "content-length", "transfer-encoding")
    headers = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in framing]
    return httpx.Response(resp.status_code, headers=headers, content=b"".join(chunks), request=resp.request)


def _may_have_body(method: str, status: int) -> bool:
    """Whether HTTP lets this response carry a body (RFC 9110 §6.4.1)."""
    return method.upper() != "HEAD" and status >= 200 and status not in (204, 304)


def _ecr_token_expired(body: bytes) -> bool:
    """ECR answers an expired token with 403 (not 401) and says so in the body."""
    text = body[:2048].decode("utf-8", "replace").lower()
    return "token has expired" in text or "authorization token has expired" in text
