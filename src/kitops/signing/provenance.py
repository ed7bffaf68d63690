"""SLSA v1 provenance of ``kit pack``: what was packed, from which Kitfile and sources, by which kit.

``kit pack --provenance`` builds the predicate (https://slsa.dev/provenance/v1) with our own
build type, wraps it in an unsigned in-toto statement whose subject is the packed manifest, and
stores it as a referrer of that manifest: a manifest with ``subject``, artifact type
``application/vnd.in-toto+json`` and the statement as its one layer. A push carries it to the
registry with the ModelKit; ``kit attest`` can sign the predicate later.

Everything recorded is what a rebuild from the same inputs records again: no absolute paths,
host names or random ids, and times from ``SOURCE_DATE_EPOCH`` when it is set, so two packs of
the same sources give the same statement bytes.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from kitops._version import __version__
from kitops.errors import UsageError
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Manifest
from kitops.signing.payloads import IN_TOTO_MEDIA_TYPE
from kitops.store.base import Store

log = logging.getLogger(__name__)

PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://kitops.ml/pack/v1"  # ours: what the parameters below mean
BUILDER_ID = "https://kitops.ml/kit@{version}"
PREDICATE_TYPE_ANNOTATION = "in-toto.io/predicate-type"
CREATED_ANNOTATION = "org.opencontainers.image.created"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_BYTES = b"{}"
GIT_TIMEOUT = 30.0  # seconds per git command: a hung git (a network filesystem) must not hang a pack


@dataclass(frozen=True)
class PackInputs:
    """The parameters of one pack, as the provenance records them.

    ``kitfile_name`` is the Kitfile's path relative to the context when it lies inside it, else
    its file name (``-`` for one read from standard input); ``kitfile_bytes`` its exact bytes.
    ``tags`` are the references as given."""

    context: Path
    kitfile_name: str
    kitfile_bytes: bytes
    tags: tuple[str, ...]
    compression: str
    model_format: str
    layer_format: str


def kitfile_name(context: Path, kitfile: Path | None) -> str:
    """How the Kitfile is named in the provenance: relative to the context when inside it."""
    if kitfile is None:
        return "-"
    try:
        return kitfile.resolve().relative_to(context.resolve()).as_posix()
    except ValueError:
        return kitfile.name


def source_time() -> _dt.datetime | None:
    """``SOURCE_DATE_EPOCH`` as a UTC time (reproducible builds), or None when it is not set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    try:
        return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise UsageError(
            f"invalid SOURCE_DATE_EPOCH {epoch!r}", hint="set it to whole seconds since 1970"
        ) from None


def now() -> _dt.datetime:
    """The time to record: ``SOURCE_DATE_EPOCH``'s when set, else the current one (whole seconds)."""
    return source_time() or _dt.datetime.now(tz=_dt.timezone.utc).replace(microsecond=0)


def _rfc3339(when: _dt.datetime) -> str:
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# git materials


def _git(context: Path, *args: str) -> str | None:
    """``git ARGS`` run in ``context`` (an argument list, no shell); its output, or None when git
    is missing, fails, or takes too long."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=context,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("git %s: %s", " ".join(args), exc)
        return None
    if done.returncode != 0:
        log.debug("git %s exited %d: %s", " ".join(args), done.returncode, done.stderr[-500:])
        return None
    return done.stdout.decode("utf-8", "replace").strip()


def public_url(url: str) -> str:
    """A remote's URL fit to publish: no password or token (nor, over HTTP, the user name that
    goes with them), and scp-like ``user@host:path`` written as the ``ssh://`` URL it means."""
    parts = urlsplit(url)
    if not parts.scheme and ":" in url and "/" not in url.split(":", 1)[0]:
        userhost, _, path = url.partition(":")  # git@github.com:org/repo.git
        return f"ssh://{userhost}/{path.lstrip('/')}"
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    keep_user = parts.scheme not in ("http", "https") and user
    netloc = f"{user}@{hostport}" if keep_user else hostport
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def git_materials(context: Path) -> list[dict[str, Any]]:
    """The git commit the context was packed from, when it lies in a git work tree with at least
    one commit: ``git+<remote URL>[@<ref>]`` (the ``origin`` remote, else the first), the commit,
    and whether anything under the context differs from it (modified or untracked files).
    Nothing when git is not installed or the context is no work tree."""
    if _git(context, "rev-parse", "--is-inside-work-tree") != "true":
        return []
    commit = _git(context, "rev-parse", "--verify", "HEAD")
    if not commit:
        return []
    status = _git(context, "status", "--porcelain", "--untracked-files=normal", "--", ".")
    annotations: dict[str, Any] = {"dirty": bool(status)}
    prefix = (_git(context, "rev-parse", "--show-prefix") or "").rstrip("/")
    if prefix:
        annotations["path"] = prefix  # the context inside the repository
    material: dict[str, Any] = {}
    remotes = (_git(context, "remote") or "").split()
    if remotes:
        name = "origin" if "origin" in remotes else remotes[0]
        url = _git(context, "remote", "get-url", name)
        if url:
            ref = _git(context, "symbolic-ref", "-q", "HEAD")
            material["uri"] = f"git+{public_url(url)}" + (f"@{ref}" if ref else "")
    material["digest"] = {"gitCommit": commit}
    material["annotations"] = annotations
    return [material]


# ---------------------------------------------------------------------------------------------
# the predicate and its statement


def provenance_predicate(
    inputs: PackInputs,
    *,
    started: _dt.datetime,
    finished: _dt.datetime,
    materials: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The SLSA v1 provenance predicate of a pack. ``materials`` default to :func:`git_materials`
    of the context."""
    if materials is None:
        materials = git_materials(inputs.context)
    kitfile = {
        "name": inputs.kitfile_name,
        "digest": {"sha256": hashlib.sha256(inputs.kitfile_bytes).hexdigest()},
    }
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "kitfile": inputs.kitfile_name,
                "tags": list(inputs.tags),
                "modelFormat": inputs.model_format,
                "layerFormat": inputs.layer_format,
                "compression": inputs.compression,
            },
            "resolvedDependencies": [kitfile, *(dict(m) for m in materials)],
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID.format(version=__version__)},
            "metadata": {"startedOn": _rfc3339(started), "finishedOn": _rfc3339(finished)},
        },
    }


class ReferrerRepository(Store, Protocol):
    """Where the statement goes: a repository that indexes referrers (local storage, a registry)."""

    def push_referrer(self, manifest: Manifest) -> Descriptor: ...


def _put(repo: Store, media_type: str, data: bytes) -> Descriptor:
    desc = Descriptor(media_type, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    if not repo.exists(desc):
        repo.push(desc, io.BytesIO(data))
    return desc


def store_statement(
    repo: ReferrerRepository, subject: Descriptor, statement: bytes, *, created: _dt.datetime
) -> Descriptor:
    """Store ``statement`` (an unsigned in-toto statement about ``subject``) in ``repo`` as a
    referrer of ``subject``: an OCI empty config, the statement as its one layer, artifact type
    ``application/vnd.in-toto+json``. Returns the referrer's descriptor."""
    config = _put(repo, EMPTY_MEDIA_TYPE, EMPTY_BYTES)
    layer = _put(repo, IN_TOTO_MEDIA_TYPE, statement)
    manifest = Manifest(
        config=config,
        layers=(layer,),
        media_type=mt.OCI_MANIFEST,
        artifact_type=IN_TOTO_MEDIA_TYPE,
        subject=Descriptor(subject.media_type or mt.OCI_MANIFEST, subject.digest, subject.size),
        annotations={PREDICATE_TYPE_ANNOTATION: PREDICATE_TYPE, CREATED_ANNOTATION: _rfc3339(created)},
    )
    return repo.push_referrer(manifest)


def record_pack_provenance(
    repo: ReferrerRepository,
    subject: Descriptor,
    subject_name: str,
    inputs: PackInputs,
    *,
    started: _dt.datetime,
    finished: _dt.datetime,
) -> Descriptor:
    """Build the provenance of a pack of ``subject`` (named ``subject_name``: its repository) and
    store it beside it as an unsigned in-toto statement referrer; returns the referrer."""
    from kitops.signing.dsse import in_toto_statement

    predicate = provenance_predicate(inputs, started=started, finished=finished)
    statement = in_toto_statement(subject_name, subject.digest, PREDICATE_TYPE, predicate)
    return store_statement(repo, subject, statement, created=finished)


__all__ = [
    "BUILD_TYPE",
    "IN_TOTO_MEDIA_TYPE",
    "PREDICATE_TYPE",
    "PackInputs",
    "git_materials",
    "kitfile_name",
    "now",
    "provenance_predicate",
    "public_url",
    "record_pack_provenance",
    "source_time",
    "store_statement",
]
