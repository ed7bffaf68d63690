"""Where cosign keeps what it attaches to a manifest, and the small OCI objects it writes there.

Two places: the tag scheme (``sha256-<hex>.sig`` / ``.att`` / ``.sbom`` in the subject's
repository: an image manifest with one layer per signature) and OCI 1.1 referrers (a manifest
whose ``subject`` is the signed manifest). The helpers here build and read those objects for any
repository that is a store with referrers: the local one and a registry's alike.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from kitops.errors import NotFoundError
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Manifest
from kitops.store.base import Store, read_blob_bytes
from kitops.store.referrers import COSIGN_SUFFIXES, referrers_tag

SIG_SUFFIX, ATT_SUFFIX, SBOM_SUFFIX = COSIGN_SUFFIXES

IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_BYTES = b"{}"
EMPTY_CONFIG = Descriptor(EMPTY_MEDIA_TYPE, "sha256:" + hashlib.sha256(EMPTY_BYTES).hexdigest(), 2)

# go-containerregistry's zero time, which its empty image and every appended layer's history carry
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"


@runtime_checkable
class ReferrerStore(Store, Protocol):
    """A repository that keeps referrers as well as blobs, manifests and tags: a registry's
    (:class:`~kitops.registry.repository.RemoteRepository`) or local storage's."""

    def referrers(self, subject: str, *, artifact_type: str | None = None) -> list[Descriptor]: ...

    def push_referrer(self, manifest: Manifest) -> Descriptor: ...


def cosign_tag(subject: str, suffix: str) -> str:
    """``sha256:<hex>`` -> ``sha256-<hex>.sig`` (or ``.att``, ``.sbom``)."""
    return referrers_tag(subject) + suffix


def image_config(layers: Sequence[Descriptor]) -> bytes:
    """The config go-containerregistry writes for cosign's signature image (an empty image with
    the layers appended): verifiers never read it, but registries and tools expect its shape."""
    config = {
        "architecture": "",
        "created": _GO_ZERO_TIME,
        "history": [{"created": _GO_ZERO_TIME} for _ in layers],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
        "config": {},
    }
    return json.dumps(config, separators=(",", ":")).encode()


def push_blob(
    repo: Store, media_type: str, data: bytes, *, annotations: Mapping[str, str] | None = None
) -> Descriptor:
    """Store a small blob unless the repository has it already; returns its descriptor."""
    desc = Descriptor(media_type, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    if not repo.exists(desc):
        repo.push(desc, io.BytesIO(data))
    return Descriptor(
        media_type, desc.digest, desc.size, annotations=dict(annotations) if annotations else None
    )


def push_manifest(repo: Store, manifest: Manifest, *, tag: str | None = None) -> Descriptor:
    """Store a manifest whose blobs are there already, and tag it."""
    data = manifest.to_bytes()
    desc = manifest.descriptor(data)
    repo.push(desc, io.BytesIO(data))
    if tag is not None:
        repo.tag(desc, tag)
    return desc


def read_manifest(repo: Store, desc: Descriptor) -> Manifest:
    """A manifest read through the store's verifying reader (its bytes match ``desc``)."""
    return Manifest.from_bytes(read_blob_bytes(repo, desc))


def tagged_manifest(repo: Store, tag: str) -> tuple[Descriptor, Manifest] | None:
    """The manifest at ``tag``, or None when the repository has no such tag."""
    try:
        desc = repo.resolve(tag)
    except NotFoundError:
        return None
    return desc, read_manifest(repo, desc)


def append_to_tag(repo: Store, tag: str, existing: Sequence[Descriptor], layer: Descriptor) -> Descriptor:
    """Tag a manifest of the ``existing`` layers of the tag-scheme manifest at ``tag`` plus
    ``layer`` (every blob stored already), as cosign does: one layer per signature or attestation.
    An existing manifest in Docker's media type is rewritten as an OCI one (readers take both)."""
    layers = (*existing, layer)
    config = push_blob(repo, IMAGE_CONFIG, image_config(layers))
    manifest = Manifest(config=config, layers=layers, media_type=mt.OCI_MANIFEST)
    return push_manifest(repo, manifest, tag=tag)


def push_referrer(
    repo: ReferrerStore,
    subject: Descriptor,
    artifact_type: str,
    layers: Sequence[Descriptor],
    *,
    annotations: Mapping[str, str] | None = None,
) -> Descriptor:
    """A referrer of ``subject`` in the OCI 1.1 artifact form: the empty config, ``artifactType``,
    the given layers (stored already). The repository indexes it (the registry's referrers API,
    its tag-schema fallback, or local storage)."""
    config = push_blob(repo, EMPTY_MEDIA_TYPE, EMPTY_BYTES)
    manifest = Manifest(
        config=config,
        layers=tuple(layers),
        media_type=mt.OCI_MANIFEST,
        artifact_type=artifact_type,
        subject=Descriptor(subject.media_type or mt.OCI_MANIFEST, subject.digest, subject.size),
        annotations=dict(annotations) if annotations else None,
    )
    return repo.push_referrer(manifest)


def artifact_type_of(desc: Descriptor, repo: Store) -> tuple[str, Manifest | None]:
    """A referrer's artifact type: its descriptor's, else its manifest's ``artifactType``, else its
    config's media type (what the referrers API reports). The manifest comes back when it had to be read."""
    if desc.artifact_type:
        return desc.artifact_type, None
    manifest = read_manifest(repo, desc)
    return manifest.artifact_type or manifest.config.media_type, manifest
