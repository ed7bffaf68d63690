"""The parts of an OCI image layout other than its blobs: ``oci-layout``, ``index.json``, and the
names its entries carry.

Each saved manifest is an ``index.json`` entry with two annotations, as the common tools read
them: ``org.opencontainers.image.ref.name`` holds the tag (skopeo's and oras' ``DIR:tag``), and
``io.containerd.image.name`` the whole reference (containerd's import, and our load, which
needs the repository too), spelt as kit parses it back: ``ghcr.io/org/model:v1``, and a local
ModelKit as ``model:v1`` (``localhost/model:v1`` would read back as repository
``localhost/model``). An entry saved by digest has only the whole name, with its digest.
"""

from __future__ import annotations

from collections.abc import Sequence

from kitops.errors import FormatError, NotFoundError
from kitops.oci import mediatypes as mt
from kitops.oci.digest import is_digest
from kitops.oci.models import MAX_MANIFEST_BYTES, Descriptor, Index, load_json
from kitops.oci.reference import parse_single, validate_tag

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
BLOBS_DIR = "blobs"
LAYOUT_VERSION = "1.0.0"
LAYOUT_BYTES = b'{"imageLayoutVersion":"1.0.0"}'
MAX_LAYOUT_FILE = 4096  # the file holds one short field
MAX_INDEX_BYTES = MAX_MANIFEST_BYTES
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
_HINT = "the input is not an OCI image layout (as written by kit save, skopeo or oras)"


def blob_name(digest: str) -> str:
    """``blobs/<algorithm>/<hex>``: where a blob lives inside a layout."""
    if not is_digest(digest):
        raise FormatError(f"invalid digest {digest!r}")
    algo, _, hexpart = digest.partition(":")
    return f"{BLOBS_DIR}/{algo}/{hexpart}"


def blob_digest(name: str) -> str | None:
    """The digest a layout path names (``blobs/sha256/<hex>``), or None for any other path."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != BLOBS_DIR:
        return None
    digest = f"{parts[1]}:{parts[2]}"
    return digest if is_digest(digest) else None


def check_layout_file(data: bytes, where: str) -> None:
    """``oci-layout`` must be ``{"imageLayoutVersion": "1.x..."}``: a later major version may
    lay its blobs out differently, and reading it as 1.0 would fail in stranger ways."""
    obj = load_json(data, f"{where} oci-layout", limit=MAX_LAYOUT_FILE)
    version = obj.get("imageLayoutVersion") if isinstance(obj, dict) else None
    if not isinstance(version, str) or not version.startswith("1."):
        raise FormatError(
            f"{where}: oci-layout does not declare image layout version 1.x (found {version!r})", hint=_HINT
        )


def is_full_name(name: str) -> bool:
    """Whether an entry name is a reference (``repo:tag``, ``registry/repo@digest``...) rather than
    a bare tag: a tag holds none of ``/``, ``:`` or ``@``."""
    return any(c in name for c in "/:@")


class LayoutIndex:
    """The entries of ``index.json``, in order; :meth:`add` names a manifest."""

    def __init__(self, entries: Sequence[Descriptor] = ()) -> None:
        self.entries: list[Descriptor] = list(entries)

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> LayoutIndex:
        try:
            index = Index.from_bytes(data)
        except FormatError as exc:
            raise FormatError(f"{where}: index.json: {exc.message}", hint=_HINT) from None
        return cls(index.manifests)

    def to_bytes(self) -> bytes:
        return Index(tuple(self.entries), media_type=mt.OCI_INDEX).to_bytes()

    def resolve(self, ref: str) -> Descriptor:
        """The entry with digest ``ref``, or the first named ``ref`` (full name or tag)."""
        by_digest = is_digest(ref)
        for entry in self.entries:
            if (entry.digest == ref) if by_digest else (ref in _names(entry)):
                return entry
        raise NotFoundError(f"{ref} is not listed in the layout's index.json")

    def add(self, desc: Descriptor, name: str) -> None:
        """List ``desc`` under ``name``: a full reference (its tag becomes the ref name) or a bare
        tag. An entry of the same name is replaced (a tag names one manifest); an older entry
        with only a ref name (skopeo's) is replaced by a new one of that tag."""
        annotations: dict[str, str] = {}
        if is_full_name(name):
            ref = parse_single(name)
            # as given, not re-spelt: "localhost/x:v1" would read back as repository localhost/x
            annotations[ANNOTATION_IMAGE_NAME] = name
            if ref.tag:
                annotations[ANNOTATION_REF_NAME] = ref.tag
        else:
            validate_tag(name)
            annotations[ANNOTATION_REF_NAME] = name
        entry = Descriptor(
            desc.media_type or mt.OCI_MANIFEST,
            desc.digest,
            desc.size,
            annotations=annotations,
            artifact_type=desc.artifact_type,
        )
        self.entries = [e for e in self.entries if not _same_name(e, entry)] + [entry]


def _names(entry: Descriptor) -> tuple[str, ...]:
    ann = entry.annotations or {}
    return tuple(ann[k] for k in (ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME) if k in ann)


def _same_name(old: Descriptor, new: Descriptor) -> bool:
    a, b = old.annotations or {}, new.annotations or {}
    if ANNOTATION_IMAGE_NAME in a and ANNOTATION_IMAGE_NAME in b:
        return a[ANNOTATION_IMAGE_NAME] == b[ANNOTATION_IMAGE_NAME]
    if ANNOTATION_IMAGE_NAME in b and ANNOTATION_REF_NAME not in b:
        return False  # a digest-named entry replaces nothing that lacks a full name
    return ANNOTATION_REF_NAME in a and a.get(ANNOTATION_REF_NAME) == b.get(ANNOTATION_REF_NAME)
