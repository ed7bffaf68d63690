"""What ``kit import`` was asked to import: a Hugging Face repository or a git URL.

Pure parsing, no network and no ``huggingface_hub``: the source text, the repository type, the
tool that fetches it (``hf`` or ``git``), the default tag, and the checks every file listed by a
remote must pass before anything is written (relative, no ``..``, one file per path).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from kitops.errors import IntegrityError, UsageError
from kitops.oci.reference import parse_single

DEFAULT_ENDPOINT = "https://huggingface.co"
TOOLS = ("git", "hf")
REPO_TYPES = ("model", "dataset")
# git bookkeeping files: never part of a ModelKit, and skipped at every depth
SKIPPED = frozenset({".gitattributes", ".gitignore"})

# A Hub repository name segment: letters, digits, '-', '_', '.', not '.' or '..' alone
_SEGMENT = re.compile(r"^[A-Za-z0-9][\w.-]*$")


@dataclass(frozen=True)
class ImportSource:
    """A parsed ``kit import`` argument."""

    repo_id: str  # "org/name" for the Hub, "" for a git URL the Hub does not serve
    repo_type: str  # "model" or "dataset"
    url: str  # what git would clone (Hub sources: the endpoint URL of the repository)
    host: str  # the URL's host, "" when the source named no host
    revision: str | None  # from a ".../tree/<rev>" URL, else None

    @property
    def hub_path(self) -> str:
        """The repository's path on the Hub: ``org/name`` or ``datasets/org/name``."""
        return self.repo_id if self.repo_type == "model" else f"{self.repo_type}s/{self.repo_id}"


def hub_endpoint() -> str:
    """The Hub endpoint: ``$HF_ENDPOINT`` (read at each call, so mirrors and tests can set it), else
    huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _check_repo_id(segments: Sequence[str], source: str) -> str:
    if len(segments) != 2 or not all(_SEGMENT.match(s) for s in segments):
        raise UsageError(
            f"not a Hugging Face repository: {source}",
            hint="use org/name, hf://org/name, hf://datasets/org/name or https://huggingface.co/org/name",
        )
    return "/".join(segments)


def parse_source(source: str, *, repo_type: str | None = None) -> ImportSource:
    """Parse ``org/name``, ``hf://[datasets/]org/name``, ``https://huggingface.co/[datasets/]org/name
    [/tree/<rev>]`` or any other git URL (whose repository the Hub does not know: ``repo_id`` is "")."""
    if repo_type is not None and repo_type not in REPO_TYPES:
        raise UsageError(f"invalid repository type {repo_type!r}", hint="use model or dataset")
    text = source.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower() if sep else ""
    host = ""
    if scheme in ("hf", "huggingface"):
        path = rest
    elif scheme in ("http", "https"):
        parts = urlsplit(text)
        host = parts.hostname or ""
        path = parts.path
    elif sep or text.startswith(("git@", "/", ".")):
        return ImportSource("", repo_type or "model", text, host or "-", None)
    else:
        path = text
    segments = [s for s in path.strip("/").split("/") if s]
    kind = repo_type
    if segments and segments[0] in ("datasets", "models"):
        kind = kind or segments[0][:-1]
        segments = segments[1:]
    revision = None
    if len(segments) > 3 and segments[2] == "tree":  # a browser URL: .../org/name/tree/<rev>
        revision = unquote("/".join(segments[3:]))
        segments = segments[:2]
    if host and "huggingface" not in host and host != urlsplit(hub_endpoint()).hostname:
        # some other git host: its path need not look like org/name
        return ImportSource("", kind or "model", text, host, revision)
    repo_id = _check_repo_id(segments, source)
    kind = kind or "model"
    endpoint = hub_endpoint()
    url = f"{endpoint}/{repo_id}" if kind == "model" else f"{endpoint}/{kind}s/{repo_id}"
    return ImportSource(repo_id, kind, url, host, revision)


def choose_tool(src: ImportSource, tool: str | None) -> str:
    """``hf`` or ``git``: the one asked for, else ``hf`` for Hub repositories and ``git`` otherwise."""
    if tool in (None, "", "auto"):
        return "hf" if src.repo_id else "git"
    if tool not in TOOLS:
        raise UsageError(f"invalid value for --tool flag. Valid options are: {', '.join(TOOLS)}")
    if tool == "hf" and not src.repo_id:
        raise UsageError(
            f"{src.url} is not a Hugging Face repository", hint="use --tool git for other git hosts"
        )
    return tool


def default_tag(src: ImportSource) -> str:
    """``org/name:latest``, lower-cased (OCI repositories are lower case)."""
    segments = [s for s in (src.repo_id or urlsplit(src.url).path).strip("/").split("/") if s]
    if segments and segments[-1].endswith(".git"):
        segments[-1] = segments[-1][: -len(".git")]
    tag = "/".join(segments).lower() + ":latest"
    try:
        if len(segments) != 2:
            raise UsageError("not org/name")
        parse_single(tag, what="tag")
    except UsageError:
        raise UsageError(
            f"Could not generate tag from URL: {src.url}: use flag --tag to set a tag for ModelKit",
            hint="e.g. kit import org/name -t my-model:v1",
        ) from None
    return tag


# ---------------------------------------------------------------------------------------------
# listed files


@dataclass(frozen=True)
class RemoteFile:
    """One file of a listing, with what its content must hash to."""

    path: str
    size: int
    git_oid: str  # sha1 of "blob <size>\\0" + content (for LFS files: of the pointer file)
    sha256: str | None  # the LFS object id, for LFS files

    @property
    def key(self) -> str:
        """The content's identity: the LFS sha256, else the git blob id."""
        return self.sha256 or self.git_oid


_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def check_path(path: object) -> str:
    """``path`` if it is a safe relative POSIX path inside the repository, else IntegrityError."""
    if not isinstance(path, str) or not path:
        raise IntegrityError(f"refusing listed file with an invalid path: {path!r}")
    bad = (
        path.startswith("/")
        or "\\" in path
        or re.match(r"^[A-Za-z]:", path) is not None
        or any(not ch.isprintable() for ch in path)
        or any(seg in ("", ".", "..") for seg in path.split("/"))
        or path.split("/")[0] == ".git"
    )
    if bad:
        raise IntegrityError(
            f"refusing listed file {path!r}: not a plain relative path inside the repository",
            hint="the server's listing is corrupt or hostile; nothing was imported",
        )
    return path


def check_listing(files: Iterable[RemoteFile]) -> list[RemoteFile]:
    """The listing's files, checked: safe paths, sane sizes and ids, no path twice, no file where
    another file needs a directory. Files in :data:`SKIPPED` are left out."""
    out: dict[str, RemoteFile] = {}
    for f in files:
        check_path(f.path)
        if not isinstance(f.size, int) or isinstance(f.size, bool) or f.size < 0:
            raise IntegrityError(f"refusing listed file {f.path!r}: invalid size {f.size!r}")
        if not _HEX40.match(f.git_oid or ""):
            raise IntegrityError(f"refusing listed file {f.path!r}: invalid git object id {f.git_oid!r}")
        if f.sha256 is not None and not _HEX64.match(f.sha256):
            raise IntegrityError(f"refusing listed file {f.path!r}: invalid LFS sha256 {f.sha256!r}")
        if f.path.rsplit("/", 1)[-1] in SKIPPED:
            continue
        if f.path in out:
            raise IntegrityError(f"refusing listing: {f.path!r} is listed twice")
        out[f.path] = f
    dirs = {p.rsplit("/", 1)[0] for p in out if "/" in p}
    parents = {d[:i] for d in dirs for i in range(len(d) + 1) if i == len(d) or d[i] == "/"}
    clash = sorted(parents & set(out))
    if clash:
        raise IntegrityError(f"refusing listing: {clash[0]!r} is both a file and a directory")
    return [out[p] for p in sorted(out)]


def _matches(path: str, pattern: str) -> bool:
    """huggingface_hub's allow/ignore rule: fnmatch on the whole path (``*`` crosses ``/``); a
    pattern ending in ``/`` means everything below that directory."""
    if pattern.endswith("/"):
        pattern += "*"
    return fnmatch.fnmatchcase(path, pattern)


def select(files: Sequence[RemoteFile], include: Sequence[str], exclude: Sequence[str]) -> list[RemoteFile]:
    """The files matched by one of ``include`` (all when empty) and by none of ``exclude``."""
    return [
        f
        for f in files
        if (not include or any(_matches(f.path, p) for p in include))
        and not any(_matches(f.path, p) for p in exclude)
    ]


def under_layers(files: Sequence[RemoteFile], layer_paths: Sequence[str]) -> list[RemoteFile]:
    """The files inside one of the Kitfile's layer paths (all files when one of them is the root).

    Compared by path components, not as string prefixes (``data`` does not take ``data2/x``)."""
    roots = [p.strip().removeprefix("./").strip("/") for p in layer_paths]
    if any(r in ("", ".") for r in roots):
        return list(files)
    return [f for f in files if any(f.path == r or f.path.startswith(r + "/") for r in roots)]
