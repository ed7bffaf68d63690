"""The Hugging Face Hub through ``huggingface_hub``: the commit a revision names, the listing, and
verified, resumable downloads.

``huggingface_hub`` is imported inside the functions; without it a
:class:`~kitops.errors.UsageError` hints ``pip install 'kitops[hf]'``. Every request is pinned to
one commit. A file is fetched once per content (LFS sha256, else git blob id) into
``blobs/<id>.part``; a later run asks for the rest with a ``Range`` request (``huggingface_hub``
1.x and later no longer keep partial files across processes); the bytes are verified against the
listing (size and hash) before the file gets its final name, and the tree that is packed is made of
hard links to those blobs.

A file already in the user's own Hugging Face cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, at
the same commit) is hard-linked from there instead of downloaded, once its bytes verify against the
listing: a cached file is only a hint, never trusted as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kitops.errors import IntegrityError, KitError, NotFoundError, TransferError, UsageError
from kitops.importers.hfsource import ImportSource, RemoteFile, check_listing, check_path
from kitops.progress import Cancel
from kitops.workers import run_each

if TYPE_CHECKING:
    from kitops.progress import Progress

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'kitops[hf]'"
_HASH_CHUNK = 1 << 20


# ---------------------------------------------------------------------------------------------
# huggingface_hub, lazily


def hf_module() -> Any:
    try:
        return importlib.import_module("huggingface_hub")
    except ImportError as exc:
        raise UsageError(f"huggingface_hub is not installed ({exc})", hint=INSTALL_HINT) from None


@contextlib.contextmanager
def hub_errors(what: str) -> Iterator[None]:
    """huggingface_hub's exceptions as kitops errors (the message names the repository, never a token)."""
    hf_module()
    try:
        errors = importlib.import_module("huggingface_hub.errors")
    except ImportError:  # before huggingface_hub 0.24 the errors lived in its utils
        errors = importlib.import_module("huggingface_hub.utils")
    try:
        yield
    except KitError:
        raise
    except errors.RevisionNotFoundError:
        raise NotFoundError(
            f"{what}: reference not found", hint="check --ref (a branch, tag or commit)"
        ) from None
    except errors.RepositoryNotFoundError:
        raise NotFoundError(
            f"{what}: repository not found, or it is private or gated",
            hint="check the name; for private or gated repositories pass --token or set HF_TOKEN",
        ) from None
    except errors.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        raise TransferError(f"{what}: the Hub answered {status or 'an error'}: {_first_line(exc)}") from None
    except errors.HFValidationError as exc:
        raise UsageError(f"{what}: {_first_line(exc)}") from None
    except OSError as exc:  # the client's size consistency check, local I/O
        raise TransferError(f"{what}: {_first_line(exc)}") from None
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2", "requests"):
            raise TransferError(f"{what}: cannot reach the Hub: {_first_line(exc)}") from None
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# listing


@dataclass
class Hub:
    """One import's connection facts."""

    src: ImportSource
    endpoint: str
    token: str | None
    commit: str = ""

    def api(self) -> Any:
        return hf_module().HfApi(endpoint=self.endpoint, token=self.token)


def resolve_commit(hub: Hub, revision: str) -> str:
    with hub_errors(f"{hub.src.hub_path}@{revision}"):
        info = hub.api().repo_info(hub.src.repo_id, repo_type=hub.src.repo_type, revision=revision)
    sha = getattr(info, "sha", None)
    if not isinstance(sha, str) or len(sha) != 40 or any(c not in "0123456789abcdef" for c in sha):
        raise IntegrityError(f"{hub.src.hub_path}@{revision}: the Hub gave no valid commit id ({sha!r})")
    return sha


def list_files(hub: Hub) -> list[RemoteFile]:
    """The repository's files at the pinned commit (the client follows the pages)."""
    found: list[RemoteFile] = []
    with hub_errors(f"listing {hub.src.hub_path}"):
        for entry in hub.api().list_repo_tree(
            hub.src.repo_id, recursive=True, revision=hub.commit, repo_type=hub.src.repo_type
        ):
            if not hasattr(entry, "blob_id"):  # a folder
                continue
            lfs = getattr(entry, "lfs", None)
            sha256 = getattr(lfs, "sha256", None) if lfs is not None else None
            if lfs is not None and getattr(lfs, "size", entry.size) != entry.size:
                raise IntegrityError(
                    f"refusing listed file {entry.path!r}: its LFS size differs from its size"
                )
            found.append(RemoteFile(entry.path, entry.size, entry.blob_id, sha256))
    return check_listing(found)


# ---------------------------------------------------------------------------------------------
# downloading


def _git_blob_id(path: Path, size: int) -> str:
    h = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, f: RemoteFile) -> None:
    """IntegrityError unless ``path`` holds exactly the listed content of ``f``."""
    size = path.stat().st_size
    if size != f.size:
        raise IntegrityError(f"{f.path}: downloaded {size} bytes, the listing says {f.size}")
    if f.sha256 is not None:
        got, kind, want = _sha256(path), "sha256", f.sha256
    else:
        got, kind, want = _git_blob_id(path, size), "git blob id", f.git_oid
    if got != want:
        raise IntegrityError(
            f"{f.path}: {kind} mismatch (expected {want}, got {got})",
            hint="the download was corrupted or the server is not serving the listed file; nothing was packed",
        )


class _Bar:
    """Stands in for the client's tqdm bar: bytes go to our Progress, and a cancel stops the
    download at the next chunk."""

    def __init__(self, key: str, progress: Progress | None, cancel: Cancel) -> None:
        self.key, self.progress, self.cancel = key, progress, cancel

    def update(self, n: int) -> None:
        if self.progress is not None and n > 0:
            self.progress.advance(self.key, n)
        self.cancel.check()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def hf_cache_dir() -> Path:
    """huggingface_hub's cache directory, read from the environment at each call (the client's own
    constant is fixed when it is first imported, so a changed ``HF_HOME`` would be missed)."""
    env = os.environ
    hub_cache = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if hub_cache:
        return Path(hub_cache).expanduser()
    hf_home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(hf_home).expanduser() / "hub"


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:  # another filesystem, or links not allowed: a copy
        shutil.copyfile(source, dest)


def _from_cache(hub: Hub, f: RemoteFile, blobs: Path) -> Path | None:
    """``blobs/<key>`` made from the Hugging Face cache's copy of ``f`` at the pinned commit, when
    there is one and its bytes are the listed ones; else None (and nothing is left behind)."""
    try:
        cached = hf_module().try_to_load_from_cache(
            hub.src.repo_id,
            f.path,
            cache_dir=hf_cache_dir(),
            revision=hub.commit,
            repo_type=hub.src.repo_type,
        )
    except Exception as exc:  # a broken cache is a cache miss, not a failed import
        log.debug("Hugging Face cache lookup of %s failed: %s", f.path, exc)
        return None
    if not isinstance(cached, str) or not os.path.isfile(cached):
        return None
    final = blobs / f.key
    taken = blobs / (f.key + ".cached")
    taken.unlink(missing_ok=True)
    try:
        _link_or_copy(Path(os.path.realpath(cached)), taken)
        verify(taken, f)  # what was linked is what is checked: a later change to the cache cannot slip in
    except (OSError, IntegrityError) as exc:
        log.info("Not using the Hugging Face cache's %s: %s", f.path, exc)
        taken.unlink(missing_ok=True)
        return None
    os.replace(taken, final)
    log.info("Using %s from the Hugging Face cache", f.path)
    return final


def _fetch(hub: Hub, f: RemoteFile, blobs: Path, progress: Progress | None, cancel: Cancel) -> Path:
    """Download ``f`` into ``blobs/<key>`` (resuming ``<key>.part``), verified; return its path.
    A verified copy in the Hugging Face cache is taken instead of a download."""
    hf = hf_module()
    final = blobs / f.key
    if final.is_file() and final.stat().st_size == f.size:
        return final  # verified before it got this name
    cached = _from_cache(hub, f, blobs)
    if cached is not None:
        return cached
    part = blobs / (f.key + ".part")
    url = hf.hf_hub_url(
        hub.src.repo_id, f.path, repo_type=hub.src.repo_type, revision=hub.commit, endpoint=hub.endpoint
    )
    with hub_errors(f"downloading {f.path}"):
        meta = hf.get_hf_file_metadata(url, token=hub.token)
    if meta.commit_hash and meta.commit_hash != hub.commit:
        raise IntegrityError(f"{f.path}: the Hub served commit {meta.commit_hash}, expected {hub.commit}")
    if meta.etag and meta.etag not in (f.key, f.git_oid):
        raise IntegrityError(f"{f.path}: the Hub serves content {meta.etag}, the listing says {f.key}")
    if meta.size is not None and meta.size != f.size:
        raise IntegrityError(f"{f.path}: the Hub serves {meta.size} bytes, the listing says {f.size}")
    location = meta.location or url
    headers = importlib.import_module("huggingface_hub.utils").build_hf_headers(token=hub.token)
    if _origin(location) != _origin(url):  # a CDN: the Hub token stays with the Hub
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    have = part.stat().st_size if part.exists() else 0
    if have > f.size:
        part.unlink()
        have = 0
    if have:
        log.info("Resuming %s at %d of %d bytes", f.path, have, f.size)
    if progress is not None:
        progress.begin(f.path, "Downloading", f.size)
        if have:
            progress.advance(f.path, have)
    error: BaseException | None = None
    try:
        with open(part, "ab") as fh:
            try:
                from huggingface_hub.file_download import http_get

                with hub_errors(f"downloading {f.path}"):
                    http_get(
                        location,
                        fh,
                        resume_size=have,
                        headers=headers,
                        expected_size=f.size,
                        _tqdm_bar=_Bar(f.path, progress, cancel),
                    )
            except TransferError:
                fh.flush()
                if fh.tell() > f.size:  # the server sent more than the file: not a resumable prefix
                    part.unlink(missing_ok=True)
                raise
        try:
            verify(part, f)
        except IntegrityError:
            part.unlink(missing_ok=True)
            raise
        os.chmod(part, 0o644)
        os.replace(part, final)
        return final
    except BaseException as exc:
        error = exc
        raise
    finally:
        if progress is not None:
            progress.end(f.path, error)


def _place(blob: Path, dest: Path) -> None:
    """``dest`` becomes ``blob``'s content: a hard link (no copy), else a copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    _link_or_copy(blob, dest)


def download_all(
    hub: Hub,
    files: Sequence[RemoteFile],
    stage: Path,
    *,
    concurrency: int,
    progress: Progress | None,
    cancel: Cancel | None,
) -> Path:
    """Every file of ``files`` under ``stage/tree``, verified; each distinct content fetched once."""
    blobs, tree = stage / "blobs", stage / "tree"
    blobs.mkdir(parents=True, exist_ok=True)
    if tree.exists():
        shutil.rmtree(tree)  # rebuilt from the verified blobs: nothing stale is ever packed
    tree.mkdir()
    unique = list({f.key: f for f in files}.values())
    stop = Cancel()
    handle = cancel.on_cancel(stop.cancel) if cancel is not None else None
    try:
        run_each(
            unique,
            lambda f: _fetch(hub, f, blobs, progress, stop),
            concurrency=max(1, concurrency),
            stop=stop,
            name="kit-import",
        )
    finally:
        if cancel is not None and handle is not None:
            cancel.forget(handle)
    for f in files:
        _place(blobs / f.key, tree / check_path(f.path))
    return tree
