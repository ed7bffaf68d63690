"""HTTP response -> typed exception, with the registry's own message and a hint. One place only."""

from __future__ import annotations

import json
from typing import NoReturn

import httpx

from kitops.errors import (
    AuthenticationError,
    PermissionDeniedError,
    RegistryError,
    RemoteNotFoundError,
)

MAX_ERROR_BODY = 8192


def _codes_and_text(resp: httpx.Response) -> tuple[list[str], str]:
    try:
        body = resp.read()[:MAX_ERROR_BODY]
    except (httpx.HTTPError, httpx.StreamError):
        body = b""
    codes: list[str] = []
    parts: list[str] = []
    try:
        obj = json.loads(body) if body else None
    except ValueError:
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
        return "the registry (or a proxy in front of it) limits request sizes: retry with --upload-mode chunked"
    if status == 416:
        return "the registry refused the chunk range: retry with --upload-mode monolithic or a smaller --chunk-size"
    if status == 429 or "TOOMANYREQUESTS" in codes:
        return "the registry is rate-limiting: wait a little, log in, or lower --concurrency"
    if status >= 500:
        return "the registry had an internal error; retry later"
    return None


def raise_for_response(resp: httpx.Response, *, method: str, url: str, host: str, repo: str = "") -> NoReturn:
    codes, text = _codes_and_text(resp)
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
