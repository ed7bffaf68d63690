"""Attaching files to a manifest as referrers (a model card, an SBOM, an eval report), and
discovering everything that refers to a manifest, as ``oras attach`` / ``oras discover`` do.

Discovery shows both places things are attached: OCI 1.1 referrers (followed recursively, since
a signature can itself be signed) and cosign's tag scheme (``sha256-<hex>.sig``/``.att``/``.sbom``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kitops.errors import FormatError, IntegrityError, NotFoundError, UsageError
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor
from kitops.signing.cosign import (
    ReferrerStore,
    artifact_type_of,
    cosign_tag,
    push_referrer,
    tagged_manifest,
)
from kitops.store.base import BLOB_BUFFER
from kitops.store.referrers import COSIGN_SUFFIXES

log = logging.getLogger(__name__)

DEFAULT_MEDIA_TYPE = "application/octet-stream"
# How far and how wide discovery goes: real graphs are a few referrers one or two levels deep; a
# registry can serve an index that lists thousands, or chains that never end.
MAX_DISCOVER_DEPTH = 8
MAX_DISCOVERED = 1000

# RFC 6838: type "/" subtype, each a restricted name (artifact types and media types must follow it)
_MEDIA_TYPE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")


def check_media_type(value: str, what: str) -> str:
    """``value`` when it is a media type (``type/subtype``); otherwise a UsageError naming ``what``."""
    if not _MEDIA_TYPE_RE.fullmatch(value):
        raise UsageError(
            f"{what} {value[:200]!r} is not a media type",
            hint="give a type/subtype, e.g. application/vnd.example.model-card.v1+json",
        )
    return value


def attach_file(
    repo: ReferrerStore,
    subject: Descriptor,
    path: str | os.PathLike[str],
    *,
    artifact_type: str,
    media_type: str = DEFAULT_MEDIA_TYPE,
    annotations: Mapping[str, str] | None = None,
) -> Descriptor:
    """Store the file at ``path`` as the one layer of a referrer of ``subject`` whose artifact type
    is ``artifact_type``; returns the referrer's descriptor. The layer is titled with the file's
    name (``org.opencontainers.image.title``); ``annotations`` go on the referrer manifest. The file
    is read twice (hashed, then streamed): never held in memory whole."""
    check_media_type(artifact_type, "artifact type")
    check_media_type(media_type, "media type")
    source = Path(path)
    if not source.is_file():
        raise NotFoundError(
            f"{source} is not a file" if source.exists() else f"no such file: {source}",
            hint="attach a regular file",
        )
    digest, size = _hash_file(source)
    blob = Descriptor(media_type, digest, size)
    if not repo.exists(blob):
        with open(source, "rb") as fh:
            repo.push(blob, fh)  # the store checks the bytes against the digest as they arrive
    layer = Descriptor(media_type, digest, size, annotations={mt.ANNOTATION_TITLE: source.name})
    return push_referrer(repo, subject, artifact_type, (layer,), annotations=annotations)


def _hash_file(path: Path) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    buf = bytearray(BLOB_BUFFER)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            hasher.update(view[:n])
            size += n
    return "sha256:" + hasher.hexdigest(), size


@dataclass(frozen=True)
class Artifact:
    """Something that refers to a manifest: a referrer, or (``tag`` set) a cosign tag-scheme
    manifest. ``artifact_type`` is the referrer's; for a tag, its first layer's media type (what it
    holds: a simple-signing payload, a DSSE envelope, an SBOM)."""

    artifact_type: str
    descriptor: Descriptor
    tag: str | None = None
    referrers: tuple[Artifact, ...] = field(default=())


def discover(repo: ReferrerStore, subject: Descriptor) -> tuple[Artifact, ...]:
    """What refers to ``subject`` in ``repo``, recursively: referrers in the order the repository
    lists them, then cosign's ``.sig``, ``.att`` and ``.sbom`` tags. Bounded in depth and count (a
    warning says when something was left out); a manifest reached twice is shown once."""
    seen = {subject.digest}
    budget = [MAX_DISCOVERED]
    return _discover(repo, subject.digest, seen, budget, 1)


def _discover(
    repo: ReferrerStore, digest: str, seen: set[str], budget: list[int], depth: int
) -> tuple[Artifact, ...]:
    found: list[tuple[str, Descriptor, str | None]] = []
    for desc in repo.referrers(digest):
        try:
            kind, _manifest = artifact_type_of(desc, repo)
        except (FormatError, IntegrityError, NotFoundError) as exc:
            log.warning("referrer %s of %s cannot be read: %s", desc.digest, digest, exc)
            continue
        found.append((kind, desc, None))
    for suffix in COSIGN_SUFFIXES:
        tag_name = cosign_tag(digest, suffix)
        tagged = tagged_manifest(repo, tag_name)
        if tagged is not None:
            desc, manifest = tagged
            kind = manifest.layers[0].media_type if manifest.layers else manifest.config.media_type
            found.append((kind, desc, tag_name))
    out = []
    for kind, desc, tag in found:
        if desc.digest in seen:
            continue
        if budget[0] <= 0:
            log.warning(
                "more than %d artifacts refer to this manifest: the rest are not shown", MAX_DISCOVERED
            )
            break
        budget[0] -= 1
        seen.add(desc.digest)
        children: tuple[Artifact, ...] = ()
        if depth < MAX_DISCOVER_DEPTH:
            children = _discover(repo, desc.digest, seen, budget, depth + 1)
        elif repo.referrers(desc.digest):
            log.warning(
                "referrers nest deeper than %d levels: the deeper ones are not shown", MAX_DISCOVER_DEPTH
            )
        out.append(Artifact(kind, desc, tag, children))
    return tuple(out)
