"""HTTP response -> typed exception, with the registry's own message and a hint. One place only."""

from __future__ import annotations

import json
import socket
import ssl
from typing import NoReturn

import httpx

from kitops.errors import (
    AuthenticationError,
    PermissionDeniedError,
    RegistryError,
    RemoteNotFoundError,
    TransferError,
)

MAX_ERROR_BODY = 8192


def read_error_body(resp: httpx.Response, limit: int = MAX_ERROR_BODY) -> bytes:
    """The first ``limit`` bytes of an error answer; the rest is never read (the connection is
    closed instead), so a hostile 1 GiB error body costs nothing."""
    if resp.is_stream_consumed:  # buffered already (a mock transport's response)
        return resp.content[:limit]
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in resp.iter_bytes():
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    except (httpx.HTTPError, httpx.StreamError):
        pass
    finally:
        resp.close()
    return b"".join(parts)[:limit]


def _codes_and_text(resp: httpx.Response, body: bytes) -> tuple[list[str], str]:
    codes: list[str] = []
    parts: list[str] = []
    try:
        obj = json.loads(body) if body else None
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("errors"), list):
        for err in obj["errors"]:
            if not isinstance(err, dict):
                continue
            code = str(err.get("code") or "")
            codes.append(code)
            msg = str(err.get("message") or resp.reason_phrase or "")
            parts.append(f"{code.lower()}: {msg}" if code else msg)
    text = "; ".join(parts)
    if len(parts) > 1:
        text = "multiple errors: " + text
    if not text:
        text = f"{resp.status_code} {resp.reason_phrase}"
        snippet = body.decode("utf-8", "replace").strip()
        if snippet and not snippet.startswith("<"):
            text += f" (additional info: {snippet[:200]})"
    return codes, text


def _hint(status: int, codes: list[str], host: str, repo: str) -> str | None:
    if status == 401 or "UNAUTHORIZED" in codes:
        return f"run 'kit login {host}' (or check the credentials stored for it)"
    if status == 403 or "DENIED" in codes:
        if host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn"):
            return f"ECR: check the IAM permissions and that repository '{repo}' exists (ECR does not create it on push)"
        if host == "ghcr.io":
            return "GHCR: the token needs write:packages and the package must be linked to or shared with this repository"
        return f"your account may not push to '{repo}' on {host}: check its permissions"
    if "NAME_UNKNOWN" in codes or (status == 404 and not codes):
        if host.endswith(".amazonaws.com"):
            return f"ECR: create the repository first (aws ecr create-repository --repository-name {repo})"
        return f"check the repository name '{repo}' and that it exists on {host}"
    if "MANIFEST_UNKNOWN" in codes:
        return "check the tag or digest: 'kit list REGISTRY/REPOSITORY' shows what the registry has"
    if "MANIFEST_INVALID" in codes or status == 415:
        return "the registry rejects this manifest or its media types; some registries allow only image media types"
    if "BLOB_UNKNOWN" in codes or "BLOB_UPLOAD_UNKNOWN" in codes:
        return "the registry lost the upload; re-run the command (finished blobs are skipped)"
    if status == 413:
        return (
            "the registry (or a proxy in front of it) limits request sizes: retry with --upload-mode chunked"
        )
    if status == 416:
        return "the registry refused the chunk range: retry with --upload-mode monolithic or a smaller --chunk-size"
    if status == 429 or "TOOMANYREQUESTS" in codes:
        return "the registry is rate-limiting: wait a little, log in, or lower --concurrency"
    if status >= 500:
        return "the registry had an internal error; retry later"
    return None


def raise_for_response(
    resp: httpx.Response, *, method: str, url: str, host: str, repo: str = "", body: bytes | None = None
) -> NoReturn:
    """Raise the typed error for an error answer; ``body`` is its (bounded) body when already read."""
    codes, text = _codes_and_text(resp, read_error_body(resp) if body is None else body)
    status = resp.status_code
    hint = _hint(status, codes, host, repo)
    message = f"{method} {url}: {text}"
    kwargs = {"method": method, "url": url, "status": status, "codes": codes, "hint": hint}
    if status == 401:
        raise AuthenticationError(message, **kwargs)  # type: ignore[arg-type]
    if status == 403:
        raise PermissionDeniedError(message, **kwargs)  # type: ignore[arg-type]
    if status == 404:
        raise RemoteNotFoundError(message, **kwargs)  # type: ignore[arg-type]
    raise RegistryError(message, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Transport failures (no HTTP answer at all) -> typed exception, and whether a retry can help.

# OpenSSL's reasons when the peer answered our ClientHello with something that is not TLS: a
# plain-HTTP server replies "HTTP/1.1 400 …", which OpenSSL reads as a record of a wrong version.
_PLAIN_HTTP_REASONS = (
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "HTTP_REQUEST",
)


def _causes(exc: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def answered_in_plain_http(exc: BaseException) -> bool:
    """The TLS handshake failed because the server spoke plain HTTP."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLError):
            reason = (getattr(cause, "reason", None) or "").upper()
            text = str(cause).upper().replace(" ", "_")
            return reason in _PLAIN_HTTP_REASONS or any(r in text for r in _PLAIN_HTTP_REASONS)
    return False


def is_retryable(exc: BaseException) -> bool:
    """Whether sending again can succeed: timeouts and connections reset or closed mid-exchange.

    A refused connection, an unknown host, an untrusted certificate or a non-TLS answer give the
    same result every time: retrying them only makes the user wait for the same error.
    """
    if isinstance(exc, httpx.TimeoutException):
        return True
    causes = _causes(exc)
    if any(isinstance(c, ssl.SSLError | ConnectionRefusedError | socket.gaierror) for c in causes):
        return False
    if isinstance(exc, httpx.ConnectError):
        return any(
            isinstance(c, ConnectionResetError | ConnectionAbortedError | TimeoutError) for c in causes
        )
    return isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError)


def transport_error(
    exc: BaseException, *, method: str, url: str, host: str, proxy: str | None = None
) -> TransferError:
    """A failure before any HTTP answer, as a message that names the cause and what to do."""
    causes = _causes(exc)
    if proxy and any(isinstance(c, ConnectionRefusedError | socket.gaierror) for c in causes):
        return TransferError(
            f"{method} {url}: cannot connect to the proxy {proxy} ({exc})",
            hint="check the --proxy address, and that the proxy is running",
        )
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = cause.verify_message or str(cause)
            return TransferError(
                f"{method} {url}: the TLS certificate of {host} is not trusted ({detail})",
                hint="pass the registry's CA with --ca-file (or SSL_CERT_FILE); --no-tls-verify skips the check (unsafe)",
            )
        if isinstance(cause, ConnectionRefusedError):
            return TransferError(
                f"{method} {url}: connection refused by {host}",
                hint=f"is a registry running at {host}? check the address and port",
            )
        if isinstance(cause, socket.gaierror):
            return TransferError(
                f"{method} {url}: cannot resolve the host name '{name}'",
                hint="check the registry name for typos, and the network or DNS",
            )
    if answered_in_plain_http(exc):
        return TransferError(
            f"{method} {url}: {host} answered in plain HTTP, not HTTPS",
            hint="this registry serves plain HTTP only: add --plain-http to the command",
        )
    if isinstance(exc, httpx.TimeoutException):
        return TransferError(
            f"{method} {url}: timed out", hint="the registry is slow or unreachable; try again"
        )
    return TransferError(f"{method} {url}: {exc}", hint="check the network and the registry address")
