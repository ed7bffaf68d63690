"""What makes a manifest a referrer of another, in any store, and the capabilities a store offers
for them.

Two conventions are in use. OCI 1.1: a manifest whose ``subject`` names another refers to it,
and a registry lists such manifests (its referrers API, or the ``sha256-<hex>`` index of the
tag schema when it has no API). Cosign's older one: the signature, attestation and SBOM of
``sha256:<hex>`` are manifests tagged ``sha256-<hex>.sig``, ``.att`` and ``.sbom`` in the same
repository. Copies, listings and removals must treat both alike, so the names live here, at
the bottom, where the local store, the copy engine and the API can all reach them.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from kitops.oci.models import Descriptor, Manifest

# cosign's tag scheme: the signature, attestation and SBOM of sha256:<hex> are tagged sha256-<hex><suffix>
COSIGN_SUFFIXES = (".sig", ".att", ".sbom")

_SCHEME_TAG = re.compile(r"(sha256-[0-9a-f]{64}|sha512-[0-9a-f]{128})(\.sig|\.att|\.sbom)?")


def referrers_tag(subject: str) -> str:
    """The tag schema's tag for ``subject``: ``sha256:<hex>`` -> ``sha256-<hex>``."""
    algo, _, hexpart = subject.partition(":")
    return f"{algo}-{hexpart}"


def cosign_tags(subject: str) -> tuple[str, ...]:
    """Cosign's tags for the signature, attestation and SBOM of ``subject``, in that order."""
    base = referrers_tag(subject)
    return tuple(base + suffix for suffix in COSIGN_SUFFIXES)


def is_scheme_tag(tag: str) -> bool:
    """Whether ``tag`` is bookkeeping of a signing scheme (a cosign tag or a tag-schema index)
    rather than a name a user gave."""
    return _SCHEME_TAG.fullmatch(tag) is not None


def artifact_type(manifest: Manifest) -> str:
    """A referrer's type as the referrers API reports it: ``artifactType``, else the config's."""
    return manifest.artifact_type or manifest.config.media_type


def referrer_entry(desc: Descriptor, manifest: Manifest) -> Descriptor:
    """``desc`` as an entry of a referrers list: with the artifact type and the manifest's annotations."""
    return Descriptor(
        desc.media_type,
        desc.digest,
        desc.size,
        annotations=manifest.annotations or None,
        artifact_type=artifact_type(manifest),
    )


@runtime_checkable
class ReferrerSource(Protocol):
    """A store that lists the manifests whose ``subject`` is a given digest."""

    def referrers(self, subject: str, *, artifact_type: str | None = None) -> list[Descriptor]: ...


@runtime_checkable
class ReferrerSink(Protocol):
    """A store that indexes a referrer by its subject as it stores it (a registry without the
    referrers API needs the tag schema's index updated; a plain ``push`` would leave it unlisted)."""

    def push_referrer(self, manifest: Manifest) -> Descriptor: ...


@runtime_checkable
class ScanningReferrers(Protocol):
    """A store whose referrers list is a scan of the manifests it holds (local storage): a manifest
    stored by a plain push is listed by its subject, whatever the form of its JSON, so a copy
    keeps a referrer's exact bytes there without going through :class:`ReferrerSink`."""

    referrers_by_scan: bool


@runtime_checkable
class TagLister(Protocol):
    """A store that can list its tags: one listing answers which cosign tags exist, instead of
    asking for each tag of each manifest."""

    def tags(self) -> list[str]: ...


__all__ = [
    "COSIGN_SUFFIXES",
    "ReferrerSink",
    "ReferrerSource",
    "ScanningReferrers",
    "TagLister",
    "artifact_type",
    "cosign_tags",
    "is_scheme_tag",
    "referrer_entry",
    "referrers_tag",
]
