"""``kit save`` / ``kit load``: ModelKits to and from an OCI image layout (air-gapped transfer)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from kitops.api._common import Home, local_store
from kitops.errors import FormatError, IntegrityError, NotFoundError, UsageError
from kitops.kitfile.model import Kitfile
from kitops.modelkit.read import ModelKit, load_modelkit
from kitops.oci.models import Descriptor, Manifest
from kitops.oci.reference import DEFAULT_REGISTRY, Reference, parse_reference, parse_single, validate_tag
from kitops.progress import Cancel, Progress
from kitops.store.layout import LocalRepository, LocalStore

if TYPE_CHECKING:  # types only: httpx, the registry client and the pack/unpack code load when a command runs
    from kitops.store.base import ReadableStore


@dataclass(frozen=True)
class ArchiveEntry:
    """One manifest of a saved or loaded layout and the reference it is named by."""

    reference: Reference
    descriptor: Descriptor


@dataclass(frozen=True)
class SaveResult:
    entries: tuple[ArchiveEntry, ...]
    blob_count: int  # blobs written (each once, however many manifests share it)
    blob_bytes: int


@dataclass(frozen=True)
class LoadResult:
    entries: tuple[ArchiveEntry, ...]


def _path_or_stream(target: str | os.PathLike[str] | BinaryIO) -> Path | BinaryIO:
    return Path(target) if isinstance(target, (str, os.PathLike)) else target


def save(
    refs: str | Sequence[str],
    output: str | os.PathLike[str] | BinaryIO,
    *,
    format: str = "tar",
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    referrers: bool = True,
) -> SaveResult:
    """Write ModelKits from local storage into one OCI image layout, for a machine without
    registry access: a tar (``output`` is a path or a binary stream such as stdout) or, with
    ``format="oci-dir"``, a directory. Each ModelKit comes with its parents (``model.path``
    references) and, unless ``referrers=False``, its referrers in local storage: manifests of
    its repository whose ``subject`` it is, and cosign's ``sha256-<hex>.sig``/``.att``/``.sbom``
    tags (found as a push finds them). Blobs go from the store into the output as they are
    read, each once. Every reference is resolved before the output is opened: one that is not
    stored writes nothing.
    """
    from kitops import transfer
    from kitops.store import ocilayout

    texts = [refs] if isinstance(refs, str) else list(refs)
    if not texts:
        raise UsageError("nothing to save", hint="name a ModelKit: kit save my-model:v1 -o models.tar")
    if format not in ocilayout.FORMATS:
        raise UsageError(f"unknown format {format!r}", hint=f"use one of: {', '.join(ocilayout.FORMATS)}")
    store = local_store(home)
    plan = _save_plan(store, texts, referrers=referrers)
    # a tar has one place to write at: one blob at a time, none of them held open waiting
    concurrency = 1 if format == "tar" else transfer.DEFAULT_CONCURRENCY
    with ocilayout.writing(_path_or_stream(output), format) as layout:
        for repo, entry in plan:
            transfer.copy(
                repo,
                entry.reference.reference,
                layout,
                dst_ref=entry.reference.display(),  # the spelling that parses back to this reference
                concurrency=concurrency,
                progress=progress,
                cancel=cancel,
            )
    return SaveResult(tuple(entry for _repo, entry in plan), layout.blob_count, layout.blob_bytes)


def _save_plan(
    store: LocalStore, texts: list[str], *, referrers: bool = True
) -> list[tuple[LocalRepository, ArchiveEntry]]:
    """What a save writes, in order: each ModelKit, its parents, then the referrers of all of
    them; one entry per name."""
    from kitops.transfer import ReferrerFinder

    plan: dict[str, tuple[LocalRepository, ArchiveEntry]] = {}

    def add(repo: LocalRepository, name: Reference, desc: Descriptor) -> None:
        plan.setdefault(str(name), (repo, ArchiveEntry(name, desc.plain())))

    for text in texts:
        ref = parse_single(text)
        repo = store.repository(ref.repo_key)
        kit = load_modelkit(repo, ref.reference, display=ref.display())
        add(repo, ref, kit.descriptor)
        for prepo, pref, pdesc in _saved_parents(store, kit, ref):
            add(prepo, pref, pdesc)
    if not referrers:
        return list(plan.values())
    finders: dict[str, ReferrerFinder] = {}  # one per repository: its tags are listed once
    for repo, entry in list(plan.values()):
        finder = finders.setdefault(repo.repo_key, ReferrerFinder(repo))
        # cosign's tags under their tag, manifests found by their subject under their digest
        for found in finder.closure([entry.descriptor.digest]):
            ref = entry.reference
            name = ref.with_tag(found.tag) if found.tag else ref.with_digest(found.descriptor.digest)
            add(repo, name, found.descriptor)
    return list(plan.values())


def _saved_parents(
    store: LocalStore, kit: ModelKit, ref: Reference
) -> list[tuple[LocalRepository, Reference, Descriptor]]:
    """The ancestors ``kit``'s ``model.path`` leads to, each where local storage holds it (a
    parent named without a registry is looked for beside a pulled child first, as unpack does).
    One that is not stored fails the save: the archive would not unpack where it is taken."""
    from kitops.modelkit.references import walk_parents

    def read(where: Reference) -> tuple[Kitfile, tuple[LocalRepository, Reference, Descriptor]]:
        repo = store.repository(where.repo_key)
        parent = load_modelkit(repo, where.reference, display=where.display())
        return parent.kitfile, (repo, where, parent.descriptor)

    def load(pref: Reference) -> tuple[Kitfile, tuple[LocalRepository, Reference, Descriptor]]:
        if ref.registry != DEFAULT_REGISTRY and pref.registry == DEFAULT_REGISTRY:
            try:
                return read(dataclasses.replace(pref, registry=ref.registry))
            except NotFoundError:
                pass
        try:
            return read(pref)
        except NotFoundError:
            raise NotFoundError(
                f"{pref.display()}, which {ref.display()} is built on (model.path), is not in local storage",
                hint="pull or pack it first: a saved ModelKit carries its parents",
            ) from None

    return [found for _path, found in walk_parents(kit.kitfile, ref.display(), load)]


def load(
    input: str | os.PathLike[str] | BinaryIO,
    *,
    refs: Sequence[str] | None = None,
    repository: str | None = None,
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    referrers: bool = True,
) -> LoadResult:
    """Copy the manifests of an OCI image layout into local storage: every one, or those named in
    ``refs`` together with (unless ``referrers=False``) the entries that refer to them: those
    whose manifest names one as ``subject``, and cosign's ``sha256-<hex>.sig``/``.att``/``.sbom``
    entries, and theirs in turn. ``input`` is a tar file (read in place), a layout directory, or
    a binary stream (stdin; its blobs are stored as they arrive). Every blob is verified against
    its digest and size. Each manifest is tagged under the name ``index.json`` gives it: the
    full reference of ``io.containerd.image.name``, else ``org.opencontainers.image.ref.name`` (a
    full reference, or a bare tag that goes into ``repository``). Nothing is named until every
    manifest arrived whole: a damaged archive leaves no tag and no listed manifest.
    """
    from kitops import transfer
    from kitops.store import ocilayout

    base = _repository_only(repository) if repository else None
    store = local_store(home)
    source = _path_or_stream(input)
    what = str(source) if isinstance(source, Path) else "standard input"
    with store.leased():  # what arrives stays until it is listed, whatever runs beside
        blobs = ocilayout.LocalBlobs(store)
        try:
            layout = ocilayout.open_source(source, blobs, progress=progress, cancel=cancel)
            chosen = _chosen_entries(layout.index.entries, refs or (), what)
            if refs and referrers:
                chosen = _with_referrers(layout, layout.index.entries, chosen)
            targets = [ArchiveEntry(_load_name(e, base, what), _listed(e)) for e in chosen]
            for digest in dict.fromkeys(t.descriptor.digest for t in targets):
                transfer.copy(layout, digest, blobs, progress=progress, cancel=cancel)
        except IntegrityError as exc:
            raise IntegrityError(
                f"{what}: {exc.message}",
                hint="the archive is damaged or was changed after it was saved; nothing was loaded",
            ) from None
        for target in targets:
            repo = store.repository(target.reference.repo_key)
            if target.reference.tag:
                repo.tag(target.descriptor, target.reference.tag)
            else:
                repo.add_manifest(target.descriptor)
    return LoadResult(tuple(targets))


def _with_referrers(
    layout: ReadableStore, entries: Sequence[Descriptor], chosen: list[Descriptor]
) -> list[Descriptor]:
    """``chosen`` and the entries that refer to them, and to those in turn, in archive order: an
    entry whose manifest names a chosen digest as ``subject``, or one that cosign's tag scheme
    names after it (``sha256-<hex>.sig``...)."""
    from kitops.oci import mediatypes as mt
    from kitops.store.base import read_blob_bytes
    from kitops.store.ocilayout import ANNOTATION_REF_NAME
    from kitops.store.referrers import is_scheme_tag

    subjects: dict[int, set[str]] = {}  # entry position -> digests it refers to
    for i, entry in enumerate(entries):
        found = set()
        tag = (entry.annotations or {}).get(ANNOTATION_REF_NAME, "").rpartition(":")[2]
        if is_scheme_tag(tag):
            algo, _, rest = tag.partition("-")
            found.add(f"{algo}:{rest.partition('.')[0]}")
        if entry.media_type in ("", mt.OCI_MANIFEST, mt.DOCKER_MANIFEST):
            try:
                manifest = Manifest.from_bytes(read_blob_bytes(layout, entry))
            except (FormatError, NotFoundError, IntegrityError):
                manifest = None  # not a manifest that can refer to anything; a damaged one fails the copy
            if manifest is not None and manifest.subject is not None:
                found.add(manifest.subject.digest)
        if found:
            subjects[i] = found
    picked = {i for i, e in enumerate(entries) if e in chosen}
    live = {entries[i].digest for i in picked}
    grew = True
    while grew:
        grew = False
        for i, refers_to in subjects.items():
            if i not in picked and refers_to & live:
                picked.add(i)
                live.add(entries[i].digest)
                grew = True
    return [e for i, e in enumerate(entries) if i in picked]


def _listed(entry: Descriptor) -> Descriptor:
    """An index.json entry as local storage lists it (a missing media type is an image manifest's)."""
    from kitops.oci import mediatypes as mt

    return Descriptor(entry.media_type or mt.OCI_MANIFEST, entry.digest, entry.size)


def _repository_only(text: str) -> Reference:
    ref, extra = parse_reference(text)
    if extra or "@" in text or ":" in text.rsplit("/", 1)[-1]:
        raise UsageError(
            f"{text!r} is not a repository: it names a tag or digest",
            hint="give the repository alone, e.g. registry.example.com/team/model",
        )
    return Reference(ref.registry, ref.repository)


def _chosen_entries(entries: Sequence[Descriptor], refs: Sequence[str], what: str) -> list[Descriptor]:
    """The entries ``refs`` name (each by its digest, its tag or its full reference), in archive
    order; all of them when ``refs`` is empty."""
    if not refs:
        return list(entries)
    chosen: set[int] = set()
    for name in refs:
        hits = {i for i, e in enumerate(entries) if _entry_named(e, name)}
        if not hits:
            raise NotFoundError(
                f"{name} is not in {what}",
                hint="it holds: " + (", ".join(_entry_label(e) for e in entries) or "nothing"),
            )
        chosen |= hits
    return [e for i, e in enumerate(entries) if i in chosen]


def _entry_named(entry: Descriptor, name: str) -> bool:
    from kitops.store.ocilayout import ANNOTATION_IMAGE_NAME

    names = (entry.annotations or {}).values()
    if name == entry.digest or name in names:
        return True
    full = (entry.annotations or {}).get(ANNOTATION_IMAGE_NAME)
    try:  # iris:v1 names localhost/iris:v1
        return full is not None and parse_single(name) == parse_single(full)
    except UsageError:
        return False


def _entry_label(entry: Descriptor) -> str:
    from kitops.store.ocilayout import ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME

    ann = entry.annotations or {}
    return ann.get(ANNOTATION_IMAGE_NAME) or ann.get(ANNOTATION_REF_NAME) or entry.digest


def _load_name(entry: Descriptor, base: Reference | None, what: str) -> Reference:
    """The reference an entry is stored under (see :func:`load`)."""
    from kitops.store.ocilayout import ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME
    from kitops.store.ocilayout.index import is_full_name

    ann = entry.annotations or {}
    tag = ann.get(ANNOTATION_REF_NAME)
    full = ann.get(ANNOTATION_IMAGE_NAME) or (tag if tag and is_full_name(tag) else None)
    if full:
        try:
            return parse_single(full)
        except UsageError as exc:
            raise FormatError(
                f"{what}: {entry.digest} is named {full!r}, not a reference: {exc.message}"
            ) from None
    if base is None:
        named = f"only by the tag {tag!r}" if tag else "by no name"
        raise UsageError(
            f"{what}: {entry.digest} is named {named}: which repository should it go to?",
            hint="name one: kit load --repository registry.example.com/team/model",
        )
    if tag:
        validate_tag(tag)
        return base.with_tag(tag)
    return base.with_digest(entry.digest)
