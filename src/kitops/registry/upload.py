"""Blob uploads: monolithic PUT or chunked PATCH, chosen per registry, with automatic fallback.

* Per-host defaults follow the quirks of the big registries (GHCR, GAR and ECR want
  one PUT; ACR and Artifactory want chunks); any other registry gets one PUT below
  100 MiB and chunks above, like the Go CLI. ``--upload-mode``/``--chunk-size`` win.
* A 413 or a dropped connection on a PUT falls back to chunks; a 416 on chunks falls
  back to one PUT.
* Chunked uploads accept 201 as well as 202 (ECR), honour ``OCI-Chunk-Min-Length``,
  carry every ``Location`` forward, track offsets themselves when ``Range`` is
  stale, resynchronise with a status GET after a drop, and record their session so
  a killed push resumes where the registry stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin

import httpx

from kitops.errors import IntegrityError, RegistryError, TransferError, UsageError
from kitops.fsutil import atomic_write
from kitops.oci.models import Descriptor
from kitops.registry.client import Body, RegistryClient

log = logging.getLogger(__name__)

MiB = 1 << 20
DEFAULT_CHUNK = 100 * MiB
CHUNK_THRESHOLD = 100 * MiB
MONOLITHIC_HOSTS = (
    re.compile(r"(^|\.)ghcr\.io$"),
    re.compile(r"\.pkg\.dev$"),
    re.compile(r"gcr\.io$"),
    re.compile(r"\.amazonaws\.com(\.cn)?$"),
)
CHUNKED_HOSTS = (re.compile(r"\.azurecr\.io$"), re.compile(r"\.jfrog\.io$"), re.compile(r"artifactory", re.I))
MAX_SESSIONS = 3


@dataclass
class UploadOptions:
    mode: str = "auto"  # auto | monolithic | chunked
    chunk_size: int | None = None
    state_dir: Path | None = None  # where chunked sessions are remembered for resume

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "monolithic", "chunked"):
            raise UsageError(f"invalid upload mode {self.mode!r}: must be auto, monolithic or chunked")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise UsageError("--chunk-size must be positive")


def choose_mode(host: str, size: int, options: UploadOptions) -> str:
    if options.mode != "auto":
        return options.mode
    name = host.lower().split(":")[0]
    if any(p.search(name) for p in MONOLITHIC_HOSTS):
        return "monolithic"
    if any(p.search(name) for p in CHUNKED_HOSTS):
        return "chunked"
    return "chunked" if size >= CHUNK_THRESHOLD else "monolithic"


def default_chunk(host: str, options: UploadOptions) -> int:
    if options.chunk_size:
        return options.chunk_size
    name = host.lower()
    if name.endswith(".azurecr.io") or name == "ghcr.io":
        return 4 * MiB
    return DEFAULT_CHUNK


class _Session:
    def __init__(self, client: RegistryClient, repo: str, location: str, min_chunk: int) -> None:
        self.client = client
        self.repo = repo
        self.location = location
        self.min_chunk = min_chunk


def _scope(repo: str) -> str:
    return f"repository:{repo}:pull,push"


def _start(client: RegistryClient, repo: str) -> _Session:
    resp = client.request(
        "POST", f"/v2/{repo}/blobs/uploads/", scope=_scope(repo), body=b"", expect=(202, 201), repo=repo
    )
    location = resp.headers.get("location")
    if not location:
        raise RegistryError(
            "registry started an upload without a Location header", hint="the registry is not OCI-compliant"
        )
    min_chunk = int(resp.headers.get("oci-chunk-min-length") or 0)
    return _Session(client, repo, _absolute(client, resp, location), min_chunk)


def _absolute(client: RegistryClient, resp: httpx.Response, location: str) -> str:
    """``Location`` resolved against the URL of the request it answered (RFC 9110 §10.2.2), which
    is not the registry's when an upload was handed to another origin."""
    url = urljoin(str(resp.request.url), location)
    # A Location naming our host without the port (behind TLS terminators) still means us.
    if url.startswith("https://") and client.base_url.endswith(":443"):
        host = client.base_url[len("https://") : -4]
        if url.startswith(f"https://{host}/"):
            url = url.replace(f"https://{host}/", f"https://{host}:443/", 1)
    return url


def _with_digest(location: str, digest: str) -> str:
    return str(httpx.URL(location).copy_merge_params({"digest": digest}))


def _state_file(options: UploadOptions, client: RegistryClient, repo: str, digest: str) -> Path | None:
    if options.state_dir is None:
        return None
    key = hashlib.sha256(f"{client.registry}/{repo}@{digest}".encode()).hexdigest()[:32]
    return options.state_dir / f"upload-{key}.json"


def upload_blob(
    client: RegistryClient,
    repo: str,
    desc: Descriptor,
    opener: Callable[[int], BinaryIO],
    options: UploadOptions,
    *,
    on_bytes: Callable[[int], None] | None = None,
) -> None:
    """Upload one blob; verifies the registry's digest echo; raises RegistryError/TransferError."""
    mode = choose_mode(client.host, desc.size, options)
    tried: set[str] = set()
    last: Exception | None = None
    for _ in range(MAX_SESSIONS):
        tried.add(mode)
        try:
            if mode == "monolithic":
                _monolithic(client, repo, desc, opener, on_bytes)
            else:
                _chunked(client, repo, desc, opener, options, on_bytes)
            return
        except TransferError as exc:
            last = exc
            status = exc.status if isinstance(exc, RegistryError) else None
            if status is not None and status < 500:
                if (mode == "monolithic" and status == 413) or (mode == "chunked" and status == 416):
                    mode = "chunked" if mode == "monolithic" else "monolithic"
                    log.info(
                        "upload of %s: registry answered %s; switching to a %s upload",
                        desc.digest[:19],
                        status,
                        mode,
                    )
                    continue
                raise
            # a dropped connection or a server error: a new session; a PUT that dropped goes chunked
            if mode == "monolithic" and status is None and "chunked" not in tried:
                mode = "chunked"
            log.info("upload of %s interrupted (%s); retrying with a %s upload", desc.digest[:19], exc, mode)
    assert last is not None
    raise last


def _monolithic(
    client: RegistryClient,
    repo: str,
    desc: Descriptor,
    opener: Callable[[int], BinaryIO],
    on_bytes: Callable[[int], None] | None,
) -> None:
    session = _start(client, repo)
    body = Body(opener=opener, offset=0, length=desc.size, on_bytes=on_bytes)
    resp = client.request(
        "PUT",
        _with_digest(session.location, desc.digest),
        scope=_scope(repo),
        body=body,
        headers={"Content-Type": "application/octet-stream"},
        expect=(201, 204),
        repo=repo,
        retry=False,
    )
    _check_echo(resp, desc)


def _chunked(
    client: RegistryClient,
    repo: str,
    desc: Descriptor,
    opener: Callable[[int], BinaryIO],
    options: UploadOptions,
    on_bytes: Callable[[int], None] | None,
) -> None:
    state = _state_file(options, client, repo, desc.digest)
    session, offset = _resume(client, repo, state)
    if session is None:
        session = _start(client, repo)
        offset = 0
    chunk = max(default_chunk(client.host, options), session.min_chunk)
    drops = 0
    while offset < desc.size:
        n = min(chunk, desc.size - offset)
        body = Body(opener=opener, offset=offset, length=n, on_bytes=on_bytes)
        try:
            resp = client.request(
                "PATCH",
                session.location,
                scope=_scope(repo),
                body=body,
                repo=repo,
                retry=False,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + n - 1}",
                },
                expect=(202, 201, 204),
            )
        except TransferError as exc:
            if isinstance(exc, RegistryError) and exc.status is not None and exc.status < 500:
                raise
            drops += 1
            if drops > 5:
                raise
            offset = _status(client, session)  # resynchronise after a drop
            log.info("chunk upload resynchronised at offset %d after: %s", offset, exc)
            continue
        location = resp.headers.get("location")
        if location:
            session.location = _absolute(client, resp, location)
        expected_end = offset + n - 1
        rng = resp.headers.get("range")
        if rng:
            m = re.match(r"^(?:bytes=)?0-(\d+)$", rng.strip())
            if m and int(m.group(1)) not in (expected_end,):
                # Some registries (ECR) report a stale Range after the first chunk: trust what we sent
                # unless the registry clearly has less, then resend from there.
                got = int(m.group(1))
                if got < expected_end and got + 1 > offset:
                    log.debug("registry has %d bytes, not %d: resending the rest", got + 1, expected_end + 1)
                    offset = got + 1
                    continue
        offset = expected_end + 1
        if state is not None:
            _save_state(state, session.location, offset)
    resp = client.request(
        "PUT",
        _with_digest(session.location, desc.digest),
        scope=_scope(repo),
        body=b"",
        headers={"Content-Type": "application/octet-stream"},
        expect=(201, 204),
        repo=repo,
        retry=False,
    )
    _check_echo(resp, desc)
    if state is not None:
        with contextlib.suppress(FileNotFoundError):
            state.unlink()


def _status(client: RegistryClient, session: _Session) -> int:
    resp = client.request(
        "GET", session.location, scope=_scope(session.repo), expect=(204, 200), repo=session.repo
    )
    location = resp.headers.get("location")
    if location:
        session.location = _absolute(client, resp, location)
    m = re.match(r"^(?:bytes=)?0-(\d+)$", (resp.headers.get("range") or "").strip())
    return int(m.group(1)) + 1 if m else 0


def _resume(client: RegistryClient, repo: str, state: Path | None) -> tuple[_Session | None, int]:
    if state is None or not state.exists():
        return None, 0
    try:
        saved = json.loads(state.read_text())
        session = _Session(client, repo, str(saved["location"]), 0)
        offset = _status(client, session)
        log.info("resuming upload at byte %d", offset)
        return session, offset
    except (ValueError, KeyError, TransferError, OSError):
        with contextlib.suppress(OSError):
            state.unlink()
        return None, 0


def _save_state(state: Path, location: str, offset: int) -> None:
    state.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(state, json.dumps({"location": location, "offset": offset}).encode(), mode=0o600)


def _check_echo(resp: httpx.Response, desc: Descriptor) -> None:
    echoed = resp.headers.get("docker-content-digest")
    if echoed and echoed != desc.digest:
        raise IntegrityError(f"registry stored {echoed} while {desc.digest} was uploaded")
