"""A repository on an OCI registry, implementing the Store protocol (plus tags, delete, mount, ranges)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import httpx

from kitops.errors import (
    ConnectionDropped,
    FormatError,
    IntegrityError,
    NotFoundError,
    RegistryError,
    RemoteNotFoundError,
    TransferError,
)
from kitops.fsutil import atomic_write
from kitops.oci import mediatypes as mt
from kitops.oci.digest import is_digest
from kitops.oci.models import MAX_MANIFEST_BYTES, Descriptor, Index, Manifest, load_json
from kitops.oci.reference import is_valid_tag
from kitops.registry.client import MAX_BODY, RegistryClient
from kitops.registry.directbody import DIRECT_BODY, DirectBody
from kitops.registry.upload import UploadOptions, upload_blob
from kitops.store.base import VerifyingReader
from kitops.store.referrers import referrers_tag

log = logging.getLogger(__name__)
TAGS_PAGE = 1000
MAX_TAG_PAGES = 1000  # pages of a tag list followed at most (a million tags at TAGS_PAGE a page)
MANIFEST_ATTEMPTS = 4  # a manifest body cut off mid-way is fetched again, this many times in all


def _raw_chunks(resp: httpx.Response) -> Iterator[bytes]:
    """The body as it arrives; a response that was already buffered (a mock transport's) from memory."""
    return iter([resp.content]) if resp.is_stream_consumed else resp.iter_raw()


class _ResponseStream:
    """A streaming HTTP response body as a file-like object.

    A body on a connection of its own (:mod:`kitops.registry.directbody`) is read in the
    caller's thread with ``readinto`` into one reused buffer, or into the caller's; and
    ``readview`` lends that buffer, so a download hashes and writes it without another copy.
    Reading, hashing and writing all release the GIL, and blobs are pulled in parallel
    threads, so no thread of its own is needed: on a 2-core machine shared with a loopback
    registry an extra reader thread per blob cost more in hand-offs than it overlapped.

    Other bodies (the direct path switched off, a proxy, a test's transport) come through
    httpx, whose parsing holds the GIL; a prefetch thread reads those ahead, at most
    ``PREFETCH_CHUNKS`` chunks. Either way a broken connection is raised as
    :class:`ConnectionDropped`, so readers can resume from their offset.
    """

    PREFETCH_CHUNKS = 4
    CHUNK = 1 << 20

    def __init__(self, resp: httpx.Response) -> None:
        self._resp = resp
        self._buf: bytes | memoryview = b""
        self._done = False
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(self.PREFETCH_CHUNKS)
        self._stop = threading.Event()
        direct = resp.extensions.get(DIRECT_BODY)
        self._direct: DirectBody | None = direct if isinstance(direct, DirectBody) else None
        self._own: memoryview | None = None  # our buffer, for readers that do not bring theirs
        self._thread: threading.Thread | None = None
        if self._direct is None:
            self._thread = threading.Thread(target=self._prefetch, name="kit-prefetch", daemon=True)
            self._thread.start()

    @property
    def direct(self) -> bool:
        """Whether the body is read from its own connection (the fast path)."""
        return self._direct is not None

    def _dropped(self, exc: BaseException) -> ConnectionDropped:
        return ConnectionDropped(
            f"connection dropped while reading {self._resp.url.path}: {exc}",
            hint="re-run the command: what arrived is kept and the rest is resumed",
        )

    def _prefetch(self) -> None:
        item: BaseException | None = None
        try:
            for chunk in _raw_chunks(self._resp):
                if self._stop.is_set():
                    return
                self._queue.put(chunk)
        except (
            httpx.TransportError,
            OSError,
        ) as exc:  # handed to the reader, which can resume from its offset
            item = self._dropped(exc)
        except BaseException as exc:  # handed to the reader, which raises it
            item = exc
        if not self._stop.is_set():
            self._queue.put(item)

    def _direct_fill(self, body: DirectBody, view: memoryview) -> int:
        try:
            n = body.readinto(view)
        except OSError as exc:
            self._done = True
            raise self._dropped(exc) from exc
        except BaseException:
            self._done = True
            raise
        if not n:
            self._done = True
        return n

    def _next(self) -> bool:
        """Refill ``_buf`` with the next chunk; False at the end of the body."""
        if self._done:
            return False
        if self._direct is not None:
            if self._own is None:
                self._own = memoryview(bytearray(self.CHUNK))
            n = self._direct_fill(self._direct, self._own)
            self._buf = self._own[:n]
            return n > 0
        item = self._queue.get()
        if item is None:
            self._done = True
            return False
        if isinstance(item, BaseException):
            self._done = True
            raise item
        self._buf = memoryview(item)
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [bytes(self._buf)]
            while self._next():
                parts.append(bytes(self._buf))
            self._buf = b""
            return b"".join(parts)
        while not self._buf:
            if not self._next():
                return b""
        data = bytes(self._buf[:n])
        self._buf = self._buf[n:]
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:
        """Read into ``buf``; a direct body fills it straight from the socket, so a reader with
        its own buffers gets the bytes with one copy."""
        view = memoryview(buf)
        if not self._buf and self._direct is not None:
            return 0 if self._done else self._direct_fill(self._direct, view)
        while not self._buf:
            if not self._next():
                return 0
        n = min(len(view), len(self._buf))
        view[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def readview(self) -> memoryview:
        """The next piece of the body without copying it (empty at the end); valid until the next
        read. Downloads hash and write these views directly."""
        while not self._buf:
            if not self._next():
                return memoryview(b"")
        view = memoryview(self._buf)
        self._buf = b""
        return view

    def discard(self, n: int) -> None:
        """Skip ``n`` bytes of the body (the prefix a reader already has, when Range was ignored)."""
        while n > 0:
            while not self._buf:
                if not self._next():
                    raise IntegrityError(f"body ended {n} bytes before the offset asked for")
            step = min(n, len(self._buf))
            self._buf = self._buf[step:]
            n -= step

    def interrupt(self) -> None:
        """End a read blocked in another thread (cancellation)."""
        if self._direct is not None:
            self._direct.interrupt()
        else:
            self._stop.set()
            self._resp.close()

    def close(self) -> None:
        if self._direct is not None:
            self._done = True
            self._resp.close()  # closes the body's own connection
            return
        self._stop.set()
        thread = self._thread
        assert thread is not None
        if thread.is_alive():
            for _ in range(4):  # unblock a producer waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    while True:
                        self._queue.get_nowait()
                thread.join(0.05)
                if not thread.is_alive():
                    break
        self._resp.close()  # also ends a producer still blocked on a stalled socket
        thread.join(1.0)

    def __enter__(self) -> _ResponseStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteRepository:
    """``<registry>/<repository>`` over the distribution API."""

    # An interrupted upload is not counted as kept: only chunked sessions can be continued, and
    # only while the registry keeps them.
    keeps_partial_blobs = False

    def __init__(
        self,
        client: RegistryClient,
        repository: str,
        *,
        upload: UploadOptions | None = None,
        locations: BlobLocations | None = None,
    ) -> None:
        self.client = client
        self.repository = repository
        self.upload = upload or UploadOptions()
        self.locations = locations
        self._manifests: dict[str, tuple[str, bytes]] = {}  # digest -> (media type, bytes) pushed or fetched

    def __repr__(self) -> str:
        return f"RemoteRepository({self.client.registry}/{self.repository})"

    @property
    def pull_scope(self) -> str:
        return f"repository:{self.repository}:pull"

    @property
    def push_scope(self) -> str:
        return f"repository:{self.repository}:pull,push"

    def _path(self, kind: str, ref: str) -> str:
        return f"/v2/{self.repository}/{kind}/{ref}"

    # -- reading ------------------------------------------------------------------------------
    def resolve(self, ref: str) -> Descriptor:
        resp = self.client.request(
            "HEAD",
            self._path("manifests", ref),
            scope=self.pull_scope,
            headers={"Accept": mt.MANIFEST_ACCEPT},
            expect=(200, 404),
            repo=self.repository,
        )
        if resp.status_code == 404:
            raise RemoteNotFoundError(
                f"{self.client.registry}/{self.repository}:{ref} not found",
                status=404,
                hint="check the tag; 'kit list REGISTRY/REPOSITORY' shows the tags",
            )
        digest = resp.headers.get("docker-content-digest", "")
        media_type = resp.headers.get("content-type", mt.OCI_MANIFEST).split(";")[0].strip()
        size = int(resp.headers.get("content-length") or 0)
        if not is_digest(digest) or not size or (is_digest(ref) and digest != ref):
            media_type, data = self._get_manifest(ref)
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            size = len(data)
            self._manifests[digest] = (media_type, data)
        if is_digest(ref) and digest != ref:
            raise IntegrityError(f"registry returned manifest {digest} for {ref}")
        return Descriptor(media_type, digest, size)

    def _get_manifest(self, ref: str) -> tuple[str, bytes]:
        for attempt in range(1, MANIFEST_ATTEMPTS + 1):
            resp = self.client.request(
                "GET",
                self._path("manifests", ref),
                scope=self.pull_scope,
                headers={"Accept": mt.MANIFEST_ACCEPT},
                expect=(200,),
                repo=self.repository,
                stream=True,
            )
            try:
                data = _read_bounded(resp, f"manifest {ref}")
                break
            except httpx.TransportError as exc:  # dropped mid-body: a manifest is small, ask again
                if attempt == MANIFEST_ATTEMPTS:
                    raise TransferError(
                        f"GET manifest {ref}: the connection dropped {attempt} times: {exc}",
                        hint="check the network and the registry; then re-run",
                    ) from None
                log.debug("GET manifest %s dropped mid-body (%s); retry %d", ref, exc, attempt)
        media_type = resp.headers.get("content-type", mt.OCI_MANIFEST).split(";")[0].strip()
        if is_digest(ref) and "sha256:" + hashlib.sha256(data).hexdigest() != ref:
            raise IntegrityError(f"manifest fetched for {ref} does not match that digest")
        return media_type, data

    def fetch(self, desc: Descriptor) -> BinaryIO:
        if desc.is_manifest:
            cached = self._manifests.get(desc.digest)
            data = cached[1] if cached else self._get_manifest(desc.digest)[1]
            self._remember_blobs(desc, data)
            import io

            return VerifyingReader(io.BytesIO(data), desc, what="manifest")  # type: ignore[return-value]
        return VerifyingReader(self.open_at(desc, 0), desc)  # type: ignore[return-value]

    def _remember_blobs(self, desc: Descriptor, data: bytes) -> None:
        """A registry holds every blob of a manifest it serves, in this repository: noting them lets
        a copy to another repository of the same registry mount instead of upload."""
        if self.locations is None or desc.media_type in (mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST):
            return
        try:
            manifest = Manifest.from_bytes(data)
        except FormatError:
            return
        for blob in (manifest.config, *manifest.layers):
            self.locations.add(self.client.registry, self.repository, blob.digest)

    def open_at(self, desc: Descriptor, offset: int) -> BinaryIO:
        """The blob's bytes from ``offset`` (a closed Range request), unverified: callers verify."""
        headers = {}
        if offset:
            headers["Range"] = f"bytes={offset}-{desc.size - 1}"
        resp = self.client.request(
            "GET",
            self._path("blobs", desc.digest),
            scope=self.pull_scope,
            headers=headers,
            expect=(200, 206),
            stream=True,
            repo=self.repository,
            large_body=True,
        )
        skip = offset if resp.status_code == 200 else 0  # Range ignored (a CDN, a proxy): whole blob again
        if self.locations is not None:
            self.locations.add(self.client.registry, self.repository, desc.digest)
        length = resp.headers.get("content-length")
        if length is not None and int(length) != desc.size - offset + skip:
            resp.close()
            raise IntegrityError(
                f"blob {desc.digest}: registry sends {length} bytes, expected {desc.size - offset + skip}"
            )
        stream = _ResponseStream(resp)
        if skip:
            log.info(
                "registry ignored the Range request for %s; skipping the %d bytes already held",
                desc.digest[:19],
                skip,
            )
            try:
                stream.discard(skip)
            except BaseException:
                stream.close()
                raise
        return stream  # type: ignore[return-value]

    def exists(self, desc: Descriptor) -> bool:
        kind = "manifests" if desc.is_manifest else "blobs"
        headers = {"Accept": mt.MANIFEST_ACCEPT} if desc.is_manifest else {}
        resp = self.client.request(
            "HEAD",
            self._path(kind, desc.digest),
            scope=self.pull_scope,
            headers=headers,
            expect=(200, 404),
            repo=self.repository,
        )
        if resp.status_code == 200 and self.locations is not None and not desc.is_manifest:
            self.locations.add(self.client.registry, self.repository, desc.digest)
        return resp.status_code == 200

    # -- writing ------------------------------------------------------------------------------
    def push(self, desc: Descriptor, data: BinaryIO) -> None:
        if desc.is_manifest:
            payload = data.read(MAX_MANIFEST_BYTES + 1)
            if hasattr(data, "verify_rest"):
                data.verify_rest()
            self.put_manifest(desc, payload, desc.digest)
            return
        self.push_from(desc, _single_use_opener(data))

    def push_from(
        self,
        desc: Descriptor,
        opener: Callable[[int], BinaryIO],
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """Upload a blob whose bytes ``opener(offset)`` can produce again (retries, auth refresh, resume).

        A blob this registry holds in another repository we know of is mounted instead.
        """
        if self.locations is not None:
            for other in self.locations.repos(self.client.registry, desc.digest):
                if other != self.repository and self._try_mount(desc, other):
                    log.info("mounted %s from %s", desc.digest[:19], other)
                    self.locations.add(self.client.registry, self.repository, desc.digest)
                    return
        upload_blob(self.client, self.repository, desc, opener, self.upload, on_bytes=on_bytes)
        if self.locations is not None:
            self.locations.add(self.client.registry, self.repository, desc.digest)

    def _try_mount(self, desc: Descriptor, other: str) -> bool:
        try:
            return self.mount(desc, other)
        except TransferError as exc:
            log.debug("mount of %s from %s failed: %s", desc.digest[:19], other, exc)
            return False

    def put_manifest(self, desc: Descriptor, payload: bytes, ref: str) -> httpx.Response:
        if "sha256:" + hashlib.sha256(payload).hexdigest() != desc.digest or len(payload) != desc.size:
            raise IntegrityError(f"manifest bytes do not match {desc.digest}")
        resp = self.client.request(
            "PUT",
            self._path("manifests", ref),
            scope=self.push_scope,
            headers={"Content-Type": desc.media_type or mt.OCI_MANIFEST},
            body=payload,
            expect=(200, 201, 202),
            repo=self.repository,
        )
        self._manifests[desc.digest] = (desc.media_type, payload)
        return resp

    # -- referrers (signatures, attestations) ---------------------------------------------------
    def referrers(self, subject: str, *, artifact_type: str | None = None) -> list[Descriptor]:
        """Manifests whose ``subject`` is ``subject``: the OCI 1.1 referrers API, or — where the
        registry has none (404, as Debian's distribution 2.8) — the ``sha256-<hex>`` tag-schema index."""
        params = {"artifactType": artifact_type} if artifact_type else None
        resp = self.client.request(
            "GET",
            self._path("referrers", subject),
            scope=self.pull_scope,
            params=params,
            headers={"Accept": mt.OCI_INDEX},
            expect=(200, 404),
            repo=self.repository,
            stream=True,
        )
        content_type = resp.headers.get("content-type", "").split(";")[0].strip()
        if resp.status_code == 200 and content_type == mt.OCI_INDEX:  # some registries answer a false 200
            found = list(_parse_index(_read_bounded(resp, f"referrers of {subject}"), subject).manifests)
        else:
            resp.close()
            found = self._tag_schema_index(subject)
        if artifact_type:
            found = [d for d in found if d.artifact_type == artifact_type]
        return found

    def push_referrer(self, manifest: Manifest) -> Descriptor:
        """Push a manifest that has a ``subject``; when the registry does not confirm it indexed it
        (no ``OCI-Subject`` header), add it to the tag-schema index as oras-go and cosign do."""
        if manifest.subject is None:
            raise FormatError("a referrer manifest needs a subject")
        payload = manifest.to_bytes()
        desc = manifest.descriptor(payload)
        resp = self.put_manifest(desc, payload, desc.digest)
        if resp.headers.get("oci-subject") == manifest.subject.digest:
            return desc
        entry = Descriptor(
            desc.media_type,
            desc.digest,
            desc.size,
            annotations=manifest.annotations,
            artifact_type=manifest.artifact_type or manifest.config.media_type,
        )
        current = self._tag_schema_index(manifest.subject.digest)
        if any(d.digest == desc.digest for d in current):
            return desc  # listed already: the index keeps its order
        index = Index(manifests=(*current, entry))
        data = index.to_bytes()
        self.put_manifest(
            Descriptor(mt.OCI_INDEX, "sha256:" + hashlib.sha256(data).hexdigest(), len(data)),
            data,
            referrers_tag(manifest.subject.digest),
        )
        return desc

    def _tag_schema_index(self, subject: str) -> list[Descriptor]:
        try:
            _media_type, data = self._get_manifest(referrers_tag(subject))
        except RemoteNotFoundError:
            return []
        return list(_parse_index(data, subject).manifests)

    def tag(self, desc: Descriptor, ref: str) -> None:
        cached = self._manifests.get(desc.digest)
        payload = cached[1] if cached else self._get_manifest(desc.digest)[1]
        self.put_manifest(desc, payload, ref)

    def mount(self, desc: Descriptor, from_repository: str) -> bool:
        """Cross-repository mount on the same registry; False when the registry will not."""
        scope = f"{self.push_scope} repository:{from_repository}:pull"
        resp = self.client.request(
            "POST",
            f"/v2/{self.repository}/blobs/uploads/",
            scope=scope,
            params={"mount": desc.digest, "from": from_repository},
            body=b"",
            expect=(201, 202),
            repo=self.repository,
        )
        if resp.status_code == 201:
            return True
        location = resp.headers.get("location")
        if location:  # the registry opened an upload instead: cancel it
            with contextlib.suppress(TransferError):
                self.client.request(
                    "DELETE",
                    urljoin(self.client.url(f"/v2/{self.repository}/blobs/uploads/"), location),
                    scope=scope,
                    expect=None,
                )
        return False

    def tags(self) -> list[str]:
        """Every tag, following ``Link`` pagination.

        The body must be ``{"name": ..., "tags": [strings]}`` (``tags`` may be null). Pagination
        stays on this registry's origin, never asks for the same page twice and stops after
        ``MAX_TAG_PAGES`` pages: a registry whose ``Link`` points back at itself, cycles, or
        leads on forever gets an error, not an endless loop.
        """
        out: list[str] = []
        # Pages are asked for by path: the client supplies scheme and host, so a loopback registry
        # found to speak plain HTTP on the first request is asked in plain HTTP from then on.
        path = f"/v2/{self.repository}/tags/list?n={TAGS_PAGE}"
        seen: set[str] = set()
        while True:
            if path in seen:
                raise RegistryError(
                    f"{self.client.registry} repeats a page of the tag list of {self.repository} "
                    f"(its Link header leads back to {_short_url(path)})",
                    method="GET",
                    url=_short_url(path),
                    hint="the registry's tag pagination is broken; report it to its operator",
                )
            if len(seen) >= MAX_TAG_PAGES:
                raise RegistryError(
                    f"the tag list of {self.client.registry}/{self.repository} has more than {MAX_TAG_PAGES} pages",
                    method="GET",
                    url=_short_url(path),
                    hint="the registry's tag pagination does not end; name a tag instead of listing them all",
                )
            seen.add(path)
            resp = self.client.request(
                "GET", path, scope=self.pull_scope, expect=(200,), repo=self.repository
            )
            body = load_json(resp.content, f"tag list of {self.repository}", limit=MAX_BODY)
            if not isinstance(body, dict):
                raise FormatError(
                    'registry returned an invalid tag list: not a JSON object {"name": ..., "tags": [...]}',
                    hint="check that the address is an OCI registry (a proxy or a web page may have answered)",
                )
            tags = body.get("tags")
            if tags is None:
                tags = []
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise FormatError(
                    "registry returned an invalid tag list: tags is not a list of strings",
                    hint="check that the address is an OCI registry (a proxy or a web page may have answered)",
                )
            for t in tags:
                if is_valid_tag(t):
                    out.append(t)
                else:  # no registry stores such a tag; never hand it to a terminal or a store
                    log.warning("ignoring invalid tag %r in the tag list of %s", t[:200], self.repository)
            m = re.search(r"<([^>]+)>\s*;\s*rel=\"?next\"?", resp.headers.get("link", ""))
            if not m:
                return out
            nxt = urlsplit(urljoin(self.client.url(path), m.group(1)))
            if _origin(nxt.geturl()) != _origin(self.client.base_url):
                raise RegistryError(
                    f"{self.client.registry} paginates its tag list to another host ({_short_url(nxt.geturl())})",
                    method="GET",
                    url=_short_url(path),
                    hint="refused: a registry's Link header may only point at the registry itself",
                )
            path = nxt.path + (f"?{nxt.query}" if nxt.query else "")

    def delete(self, desc: Descriptor) -> None:
        resp = self.client.request(
            "DELETE",
            self._path("manifests", desc.digest),
            scope=f"repository:{self.repository}:delete",
            expect=(200, 202, 404, 405),
            repo=self.repository,
        )
        if resp.status_code == 405:
            raise TransferError(
                f"removing models is unsupported by registry {self.client.registry}",
                hint="enable deletes on the registry (distribution: storage.delete.enabled: true)",
            )
        if resp.status_code == 404:
            raise NotFoundError(f"model {self.client.registry}/{self.repository}@{desc.digest} not found")


def _read_bounded(resp: httpx.Response, what: str, limit: int = MAX_MANIFEST_BYTES) -> bytes:
    """A streamed metadata body (manifest, index) read whole but never past ``limit``; closes ``resp``.

    The body is decoded (a proxy may gzip it) and counted as it arrives, so neither a lying
    Content-Length nor a compression bomb gets past ``limit``."""
    hint = "the registry sent more than any manifest or index holds; check the registry address"
    try:
        length = resp.headers.get("content-length", "")
        if length.isascii() and length.isdigit() and int(length) > limit:  # junk: the count below decides
            raise IntegrityError(f"{what} is {int(length)} bytes, over the {limit}-byte limit", hint=hint)
        chunks, total = [], 0
        try:
            for chunk in [resp.content] if resp.is_stream_consumed else resp.iter_bytes():
                total += len(chunk)
                if total > limit:
                    raise IntegrityError(f"{what} is over the {limit}-byte limit", hint=hint)
                chunks.append(chunk)
        except httpx.DecodingError as exc:  # a Content-Encoding the body does not follow
            raise FormatError(
                f"{what}: the registry sent a body that does not decode: {exc}",
                hint="check the registry, or a proxy in front of it",
            ) from None
    finally:
        resp.close()
    return b"".join(chunks)


def _parse_index(data: bytes, subject: str) -> Index:
    try:
        return Index.from_bytes(data)
    except FormatError as exc:
        raise FormatError(f"referrers of {subject}: {exc}", hint=exc.hint) from None


def _origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:  # a port that is not a number, or out of range
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def _short_url(url: str) -> str:
    return url if len(url) <= 200 else url[:200] + "..."


class BlobLocations:
    """Which repositories of a registry are known to hold a blob: what makes cross-repo mounts possible.

    Kept in ``$KITOPS_HOME/cache/blob-locations.json``; small, advisory, safe to delete.
    """

    MAX_PER_REGISTRY = 20000

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._data: dict[str, dict[str, list[str]]] | None = None
        self._lock = threading.Lock()
        self._dirty = False

    def _load(self) -> dict[str, dict[str, list[str]]]:
        if self._data is None:
            self._data = {}
            if self.path is not None and self.path.exists():
                try:
                    obj = json.loads(self.path.read_text())
                    if isinstance(obj, dict):
                        self._data = obj
                except (OSError, ValueError):
                    pass
        return self._data

    def repos(self, registry: str, digest: str) -> list[str]:
        with self._lock:
            return list(self._load().get(registry, {}).get(digest, []))

    def add(self, registry: str, repo: str, digest: str) -> None:
        with self._lock:
            reg = self._load().setdefault(registry, {})
            repos = reg.setdefault(digest, [])
            if repo not in repos:
                repos.append(repo)
                del repos[:-5]
                self._dirty = True
            if len(reg) > self.MAX_PER_REGISTRY:
                for key in list(reg)[: len(reg) - self.MAX_PER_REGISTRY]:
                    del reg[key]

    def save(self) -> None:
        with self._lock:
            if not self._dirty or self.path is None or self._data is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(self._data).encode(), mode=0o600)
            self._dirty = False


class _StreamView:
    """Reads from a shared stream without closing it, counting what was consumed."""

    def __init__(self, owner: _StreamOpener) -> None:
        self._owner = owner

    def read(self, n: int = -1) -> bytes:
        data = self._owner.data.read(n)
        self._owner.position += len(data)
        return bytes(data)

    def close(self) -> None:
        pass


class _StreamOpener:
    """``opener(offset)`` over a plain stream: seeks when it can, else only continues forward.

    Chunked uploads ask for consecutive offsets, which any stream can serve; a retry
    from an earlier offset needs a seekable stream.
    """

    def __init__(self, data: BinaryIO) -> None:
        self.data = data
        self.position = 0

    def __call__(self, offset: int) -> BinaryIO:
        seekable = getattr(self.data, "seekable", None)
        if offset != self.position:
            if not (seekable and seekable()):
                raise TransferError(
                    "cannot resend part of a non-seekable upload stream", hint="re-run the command"
                )
            self.data.seek(offset)
            self.position = offset
        return _StreamView(self)  # type: ignore[return-value]


def _single_use_opener(data: BinaryIO) -> Callable[[int], BinaryIO]:
    return _StreamOpener(data)
