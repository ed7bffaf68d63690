"""``kit pack``: Kitfile + context directory -> a ModelKit in the local store.

Each layer is built in one pass (walk -> tar -> [compress] -> hash -> ingest file ->
atomic rename), layers in parallel threads; the manifest is written last, so an
interrupted pack leaves nothing but unreferenced ingest files behind.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kitops.errors import UsageError
from kitops.kitfile.ignore import LayerIgnore, matcher_with_defaults, read_ignore_file
from kitops.kitfile.model import Kitfile, LayerInfo
from kitops.kitfile.validate import validate
from kitops.modelkit.compression import CompressingSink, check_compression
from kitops.modelkit.layers import LayerSpec, check_layer_path, plan_layers, walk_layer
from kitops.modelkit.packcache import CachedLayer, PackCache, layer_key
from kitops.modelkit.references import resolve_parent_kitfile
from kitops.modelkit.tar import GoTarWriter
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Manifest
from kitops.oci.reference import DEFAULT_REGISTRY, DEFAULT_REPOSITORY, Reference
from kitops.progress import NULL_PROGRESS, Cancel, Progress
from kitops.settings import CLI_VERSION
from kitops.store.layout import LocalStore

log = logging.getLogger(__name__)

LEGACY_CLI_VERSION = "1.7.0"


@dataclass(frozen=True)
class PackResult:
    descriptor: Descriptor
    manifest: Manifest
    kitfile: Kitfile
    repo_key: str
    tags: tuple[str, ...]


class _HashingSink:
    """Hashes the uncompressed tar (the diffId) on its way into the compressor."""

    def __init__(self, dest: CompressingSink) -> None:
        self.dest = dest
        self.hasher = hashlib.sha256()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.hasher.update(data)
        return self.dest.write(data)


def build_ignore(context: Path, kitfile: Kitfile, extra_layer_paths: Sequence[str] = ()) -> LayerIgnore:
    """``.kitignore`` patterns then the defaults (as kit orders them), plus every layer path."""
    patterns: list[str] = []
    ignore_file = context / ".kitignore"
    if ignore_file.is_file():
        patterns = read_ignore_file(ignore_file.read_text(encoding="utf-8"))
    return LayerIgnore(matcher_with_defaults(patterns), [*kitfile.layer_paths(), *extra_layer_paths])


def build_layer(
    store: LocalStore,
    context: Path,
    spec: LayerSpec,
    ignore: LayerIgnore,
    compression: str,
    *,
    progress: Progress = NULL_PROGRESS,
    cancel: Cancel | None = None,
    annotate: bool = True,
    cache: PackCache | None = None,
) -> Descriptor:
    entries = list(walk_layer(context, spec.path, ignore))
    total = sum(e.size for e in entries)
    key = f"{spec.base_type}:{spec.path}"
    media_type = mt.layer_media_type(spec.base_type, compression)
    identity = layer_key(entries, compression, media_type) if cache is not None else None
    hit = cache.get(identity) if cache is not None else None
    if hit is not None and hit.media_type == media_type and store.has_blob(hit.digest):  # has_blob leases it
        assert cache is not None and identity is not None
        cache.touch(identity)
        spec.set_layer(LayerInfo(hit.digest, hit.diff_id))
        log.info(
            "Saved %s layer: %s (files unchanged since it was packed: not read again)",
            spec.base_type,
            hit.digest,
        )
        return _annotated(Descriptor(media_type, hit.digest, hit.size), spec, annotate)
    progress.begin(key, f"packing {spec.base_type}", total)
    try:
        with store.blob_writer() as writer:
            hashing: _HashingSink | None = None
            compressor: CompressingSink | None = None
            if compression == "none":
                tw = GoTarWriter(writer)
            else:
                compressor = CompressingSink(compression, writer)
                hashing = _HashingSink(compressor)
                tw = GoTarWriter(hashing)

            def advance(n: int) -> None:
                if cancel is not None:
                    cancel.check()
                progress.advance(key, n)

            for entry in entries:
                if entry.source is None:
                    tw.add_dir(entry.name, entry.mode)
                else:
                    with open(entry.source, "rb", buffering=0) as fh:
                        tw.add_file(entry.name, entry.mode, entry.size, fh, on_bytes=advance)
            tw.close()
            if compressor is not None:
                compressor.close()
            desc = writer.commit(media_type)
    except BaseException as exc:
        progress.end(key, exc)
        raise
    progress.end(key)
    diff_id = desc.digest if hashing is None else "sha256:" + hashing.hasher.hexdigest()
    spec.set_layer(LayerInfo(desc.digest, diff_id))
    if cache is not None:
        cache.put(identity, CachedLayer(desc.digest, diff_id, desc.size, media_type))
    log.info("Saved %s layer: %s", spec.base_type, desc.digest)
    return _annotated(desc, spec, annotate)


def _annotated(desc: Descriptor, spec: LayerSpec, annotate: bool) -> Descriptor:
    if not annotate:
        return desc
    ann = {mt.ANNOTATION_FILEPATH: spec.clean}
    if spec.subtype:
        ann[mt.ANNOTATION_LAYER_SUBTYPE] = spec.subtype
    return Descriptor(desc.media_type, desc.digest, desc.size, annotations=ann)


def created_timestamp() -> str:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now; RFC 3339 UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            when = _dt.datetime.fromtimestamp(int(epoch), tz=_dt.timezone.utc)
        except ValueError:
            raise UsageError(
                f"invalid SOURCE_DATE_EPOCH {epoch!r}", hint="set it to whole seconds since 1970"
            ) from None
    else:
        when = _dt.datetime.now(tz=_dt.timezone.utc).replace(microsecond=0)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def pack(
    context_dir: str | os.PathLike[str],
    *,
    store: LocalStore,
    kitfile: Kitfile,
    refs: Sequence[Reference] = (),
    compression: str = "none",
    legacy_manifest: bool = False,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    max_workers: int | None = None,
    annotations: Mapping[str, str] | None = None,
    cache: PackCache | None = None,
) -> PackResult:
    """Pack ``context_dir`` as described by ``kitfile`` and store it under ``refs`` (first is primary).

    No ref: stored untagged in ``localhost/_``. All refs must share one repository,
    as with the reference CLI's ``-t repo:tag1,tag2``. ``annotations`` are added to the
    manifest's own (provenance such as an MLflow run id); they may not replace the
    annotations kit itself writes (CLI version, creation time).
    """
    progress = progress or NULL_PROGRESS
    check_compression(compression)
    extra = _check_annotations(annotations)
    context = Path(context_dir).absolute()
    if not context.is_dir():
        raise UsageError(
            f"Failed to use context path {context}: not a directory", hint="pass the project directory"
        )
    parent_paths: list[str] = []
    if kitfile.model is not None and kitfile.model.path and _is_ref(kitfile.model.path):
        base = refs[0].display() if refs else ""
        parent = resolve_parent_kitfile(store, kitfile.model.path, base)
        parent_paths = parent.layer_paths()
    validate(kitfile, context)
    ignore = build_ignore(context, kitfile, parent_paths)
    specs = plan_layers(kitfile)
    for spec in specs:  # before any layer is written
        check_layer_path(context, spec.path)
    workers = max_workers or max(1, min(len(specs), (os.cpu_count() or 1) + 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kit-pack") as pool:
        futures = [
            pool.submit(
                build_layer,
                store,
                context,
                s,
                ignore,
                compression,
                progress=progress,
                cancel=cancel,
                annotate=not legacy_manifest,
                cache=cache,
            )
            for s in specs
        ]
        try:
            layers = [f.result() for f in futures]
        except BaseException:
            if cancel is not None:
                cancel.cancel()
            for f in futures:
                f.cancel()
            raise
    if cache is not None:
        cache.save()
    config = store.put_bytes(mt.KIT_CONFIG, kitfile.to_config_bytes())
    log.info("Saved configuration: %s", config.digest)
    repo_key = refs[0].repo_key if refs else f"{DEFAULT_REGISTRY}/{DEFAULT_REPOSITORY}"
    repo = store.repository(repo_key)
    if legacy_manifest:
        manifest = Manifest(
            config=config,
            layers=tuple(layers),
            annotations={mt.ANNOTATION_CLI_VERSION: LEGACY_CLI_VERSION, **extra},
            layers_null=True,
        )
    else:
        manifest = _reuse_identical(store, repo_key, config, layers, extra) or Manifest(
            config=config,
            layers=tuple(layers),
            annotations={
                mt.ANNOTATION_CLI_VERSION: CLI_VERSION,
                mt.ANNOTATION_CREATED: created_timestamp(),
                **extra,
            },
            media_type=mt.OCI_MANIFEST,
            artifact_type=mt.KIT_MANIFEST_ARTIFACT,
        )
    data = manifest.to_bytes()
    desc = store.put_bytes(mt.OCI_MANIFEST, data)
    log.info("Saved manifest to storage: %s", desc.digest)
    repo.add_manifest(desc)
    tags = []
    for ref in refs:
        if ref.repo_key != repo_key:
            raise UsageError(f"all tags must name the same repository ({repo_key}), got {ref}")
        if ref.tag:
            repo.tag(desc, ref.tag)
            tags.append(ref.tag)
    return PackResult(desc, manifest, kitfile, repo_key, tuple(tags))


def _is_ref(path: str) -> bool:
    from kitops.oci.reference import is_modelkit_reference

    return is_modelkit_reference(path)


def _check_annotations(annotations: Mapping[str, str] | None) -> dict[str, str]:
    extra = dict(annotations or {})
    for k, v in extra.items():
        if not isinstance(k, str) or not k or not isinstance(v, str):
            raise UsageError(
                f"invalid manifest annotation {k!r}: {v!r}",
                hint="annotations map non-empty strings to strings",
            )
        if k in (mt.ANNOTATION_CLI_VERSION, mt.ANNOTATION_CREATED):
            raise UsageError(
                f"manifest annotation {k} is written by kit itself", hint="use your own annotation key"
            )
    return extra


def _reuse_identical(
    store: LocalStore,
    repo_key: str,
    config: Descriptor,
    layers: list[Descriptor],
    annotations: Mapping[str, str],
) -> Manifest | None:
    """Re-packing unchanged content returns the existing ModelKit (same digest, no orphan),
    provided it already carries the requested extra annotations."""
    from kitops.errors import FormatError, IntegrityError, NotFoundError

    for desc in store.repository(repo_key).manifests():
        try:
            existing = store.read_manifest(desc)
        except (FormatError, NotFoundError, IntegrityError):
            # not a manifest we can compare (an index, a blob gone or damaged): no candidate for reuse
            continue
        if (
            existing.artifact_type == mt.KIT_MANIFEST_ARTIFACT
            and existing.config.digest == config.digest
            and list(existing.layers) == list(layers)
            and all((existing.annotations or {}).get(k) == v for k, v in annotations.items())
        ):
            return existing
    return None
