"""``kit pack``: Kitfile + context directory -> a ModelKit in the local store.

Each layer is built in one pass (walk -> tar -> [compress] -> hash -> ingest file ->
atomic rename; a raw layer is the file copied in the kernel and hashed behind the copy),
layers in parallel threads; the manifest is written last, so an interrupted pack leaves
nothing but unreferenced ingest files behind.

Two formats: the Kit format (config blob = the Kitfile as JSON) and the CNCF ModelPack
format (config blob = the ModelPack config; the Kitfile rides along as a manifest
annotation so it round-trips). Three layer formats: ``tar`` (one layer per Kitfile entry,
a file or a directory tree), ``raw`` (one layer per entry, each a single file's bytes) and,
for ModelPack, ``native`` (weights directories expanded into one raw layer per file).

``kit pack --push`` (:mod:`kitops.modelkit.packpush`) shares the plan (:func:`plan_pack`), the
layer writers (:func:`write_tar_layer`, ``write_raw_layer``) and the manifest assembly
(:func:`assemble_manifest`) with the local pack, so a registry gets the very bytes it would store.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kitops.errors import UsageError
from kitops.kitfile.ignore import LayerIgnore, matcher_with_defaults, read_ignore_file
from kitops.kitfile.model import Kitfile, LayerInfo
from kitops.kitfile.validate import validate
from kitops.modelkit import modelpack_write as mpw
from kitops.modelkit.compression import CompressingSink, check_compression
from kitops.modelkit.layers import LayerSpec, WalkEntry, check_layer_path, plan_layers, walk_layer
from kitops.modelkit.packcache import CachedLayer, PackCache, layer_key
from kitops.modelkit.rawlayer import HashingSink, build_raw_layer, regular_file
from kitops.modelkit.references import resolve_parent_kitfile
from kitops.modelkit.tar import GoTarWriter, Sink
from kitops.oci import mediatypes as mt
from kitops.oci.models import MAX_MANIFEST_BYTES, Descriptor, Manifest
from kitops.oci.reference import DEFAULT_REGISTRY, DEFAULT_REPOSITORY, Reference
from kitops.progress import NULL_PROGRESS, Cancel, Progress
from kitops.settings import CLI_VERSION
from kitops.store.layout import LocalStore

log = logging.getLogger(__name__)

LEGACY_CLI_VERSION = "1.7.0"
MODEL_FORMATS = ("kit", "modelpack")
LAYER_FORMATS = ("tar", "raw", "native")


@dataclass(frozen=True)
class PackResult:
    descriptor: Descriptor
    manifest: Manifest
    kitfile: Kitfile
    repo_key: str
    tags: tuple[str, ...]
    pushed_to: str | None = None  # the registry reference, for ``pack --push`` (nothing stored locally)


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
    media_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
    progress: Progress = NULL_PROGRESS,
    cancel: Cancel | None = None,
    cache: PackCache | None = None,
) -> Descriptor:
    """Build the tar layer ``spec`` into the store; its descriptor carries ``annotations`` (none
    when ``None``, as the v1.7 manifest form has). ``media_type`` defaults to the Kit layer type."""
    entries = list(walk_layer(context, spec.path, ignore))
    total = sum(e.size for e in entries)
    key = f"{spec.base_type}:{spec.path}"
    media_type = media_type or mt.layer_media_type(spec.base_type, compression)
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
        return Descriptor(media_type, hit.digest, hit.size, annotations=annotations or None)
    progress.begin(key, f"packing {spec.base_type}", total)

    def advance(n: int) -> None:
        if cancel is not None:
            cancel.check()
        progress.advance(key, n)

    try:
        with store.blob_writer() as writer:
            compressed_diff_id = write_tar_layer(writer, entries, compression, advance)
            desc = writer.commit(media_type)
    except BaseException as exc:
        progress.end(key, exc)
        raise
    progress.end(key)
    diff_id = compressed_diff_id or desc.digest
    spec.set_layer(LayerInfo(desc.digest, diff_id))
    if cache is not None:
        cache.put(identity, CachedLayer(desc.digest, diff_id, desc.size, media_type))
    log.info("Saved %s layer: %s", spec.base_type, desc.digest)
    return Descriptor(desc.media_type, desc.digest, desc.size, annotations=annotations or None)


def write_tar_layer(
    dest: Sink,
    entries: Sequence[WalkEntry],
    compression: str,
    on_bytes: Callable[[int], None],
    *,
    buffer_size: int = 4 << 20,
) -> str | None:
    """Write the tar layer of ``entries``, compressed with ``compression``, into ``dest``: the
    same bytes whoever calls it (``kit pack`` into the store, ``kit pack --push`` to hash a layer
    and again to upload it). Returns the uncompressed tar's digest (the DiffID) when compressed,
    else None: the blob's own digest is then the DiffID. ``dest`` may receive files inside the
    kernel (a blob writer) when the layer is not compressed."""
    hashing: HashingSink | None = None
    compressor: CompressingSink | None = None
    if compression == "none":
        tw = GoTarWriter(dest, buffer_size=buffer_size)
    else:
        compressor = CompressingSink(compression, dest)
        hashing = HashingSink(compressor)
        tw = GoTarWriter(hashing, buffer_size=buffer_size)
    for entry in entries:
        if entry.source is None:
            tw.add_dir(entry.name, entry.mode)
        else:
            with open(entry.source, "rb", buffering=0) as fh:
                tw.add_file(entry.name, entry.mode, entry.size, fh, on_bytes=on_bytes)
    tw.close()
    if compressor is None or hashing is None:
        return None
    compressor.close()
    return "sha256:" + hashing.hasher.hexdigest()


def layer_media_type(spec: LayerSpec, model_format: str, compression: str) -> str:
    """The media type of ``spec``'s layer in ``model_format``; a raw layer is never compressed in
    ModelPack (the spec has no such type)."""
    if model_format == "modelpack":
        assert spec.kind is not None
        comp = "none" if spec.layer_format == "raw" else compression
        return mt.modelpack_layer_media_type(spec.kind, comp, spec.layer_format)
    return mt.layer_media_type(spec.base_type, compression, spec.layer_format)


def layer_annotations(spec: LayerSpec) -> dict[str, str]:
    """Where the layer's content goes (every reader needs it), the prompt subtype, and whether
    its ModelPack kind was guessed from file names."""
    ann = {mt.ANNOTATION_FILEPATH: spec.clean}
    if spec.subtype:
        ann[mt.ANNOTATION_LAYER_SUBTYPE] = spec.subtype
    if spec.guessed:
        ann[mt.ANNOTATION_MEDIATYPE_UNTESTED] = "true"
    return ann


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


@dataclass
class PackPlan:
    """What a pack writes, decided and checked before a byte of layer content is read. A local
    pack and ``kit pack --push`` share it (and :func:`assemble_manifest`), so both give the same
    layers, config and manifest for the same content."""

    context: Path
    kitfile: Kitfile
    specs: list[LayerSpec]
    ignore: LayerIgnore
    compression: str
    model_format: str
    legacy_manifest: bool
    created: str
    fixed_mtime: str | None  # the files' mtime in raw layers' metadata: SOURCE_DATE_EPOCH's when set
    extra: dict[str, str]
    modelpack_config: dict[str, str]

    def media_type(self, spec: LayerSpec) -> str:
        return layer_media_type(spec, self.model_format, self.compression)

    def layer_compression(self, spec: LayerSpec) -> str:
        """A raw ModelPack layer is never compressed (the format has no such type)."""
        return "none" if spec.layer_format == "raw" and self.model_format == "modelpack" else self.compression

    def annotations(self, spec: LayerSpec) -> dict[str, str] | None:
        """The layer descriptor's annotations; none in the v1.7 manifest form."""
        return None if self.legacy_manifest else layer_annotations(spec)


def plan_pack(
    context_dir: str | os.PathLike[str],
    *,
    store: LocalStore,
    kitfile: Kitfile,
    refs: Sequence[Reference] = (),
    compression: str = "none",
    legacy_manifest: bool = False,
    annotations: Mapping[str, str] | None = None,
    model_format: str = "kit",
    layer_format: str = "tar",
    modelpack_config: Mapping[str, str] | None = None,
) -> PackPlan:
    """Check every option and path and plan the layers; nothing is read or written yet. A
    ``model.path`` naming a ModelKit is read from ``store`` (its paths are not packed again)."""
    check_compression(compression)
    _check_formats(model_format, layer_format, compression, legacy_manifest, modelpack_config)
    extra = _check_annotations(annotations, model_format)
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
    if model_format == "modelpack":
        mpw.refuse_mcp_servers(kitfile)
    ignore = build_ignore(context, kitfile, parent_paths)
    specs = _plan(kitfile, context, ignore, model_format, layer_format)
    if model_format == "modelpack" and not specs:
        raise UsageError(
            "nothing to pack: a ModelPack needs at least one layer",
            hint="give the Kitfile a model, code, dataset, docs or prompt path with files in it",
        )
    created = created_timestamp()
    return PackPlan(
        context=context,
        kitfile=kitfile,
        specs=specs,
        ignore=ignore,
        compression=compression,
        model_format=model_format,
        legacy_manifest=legacy_manifest,
        created=created,
        fixed_mtime=created if os.environ.get("SOURCE_DATE_EPOCH") else None,
        extra=extra,
        modelpack_config=dict(modelpack_config or {}),
    )


def check_refs(refs: Sequence[Reference], repo_key: str) -> list[str]:
    """The tags of ``refs``, which must all name the repository ``repo_key``."""
    tags = []
    for ref in refs:
        if ref.repo_key != repo_key:
            raise UsageError(f"all tags must name the same repository ({repo_key}), got {ref}")
        if ref.tag:
            tags.append(ref.tag)
    return tags


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
    model_format: str = "kit",
    layer_format: str = "tar",
    modelpack_config: Mapping[str, str] | None = None,
) -> PackResult:
    """Pack ``context_dir`` as described by ``kitfile`` and store it under ``refs`` (first is primary).

    No ref: stored untagged in ``localhost/_``. All refs must share one repository,
    as with the reference CLI's ``-t repo:tag1,tag2``. ``annotations`` are added to the
    manifest's own (provenance such as an MLflow run id); they may not replace the
    annotations kit itself writes (CLI version, creation time, the Kitfile of a ModelPack).

    ``model_format`` is ``kit`` or ``modelpack``; ``layer_format`` is ``tar``, ``raw`` (every
    Kitfile path must then be a regular file) or, for ModelPack only, ``native`` (weights
    directories become one raw layer per file). ``modelpack_config`` sets ModelPack config
    values by dotted key (``config.paramSize``, ``descriptor.family``...).
    """
    progress = progress or NULL_PROGRESS
    plan = plan_pack(
        context_dir,
        store=store,
        kitfile=kitfile,
        refs=refs,
        compression=compression,
        legacy_manifest=legacy_manifest,
        annotations=annotations,
        model_format=model_format,
        layer_format=layer_format,
        modelpack_config=modelpack_config,
    )
    layers = _build_layers(
        store, plan, progress=progress, cancel=cancel, max_workers=max_workers, cache=cache
    )
    if cache is not None:
        cache.save()
    repo_key = refs[0].repo_key if refs else f"{DEFAULT_REGISTRY}/{DEFAULT_REPOSITORY}"
    manifest, data = assemble_manifest(plan, layers, LocalTarget(store, repo_key))
    desc = store.put_bytes(mt.OCI_MANIFEST, data)
    log.info("Saved manifest to storage: %s", desc.digest)
    repo = store.repository(repo_key)
    repo.add_manifest(desc)
    tags = check_refs(refs, repo_key)
    for tag in tags:
        repo.tag(desc, tag)
    return PackResult(desc, manifest, kitfile, repo_key, tuple(tags))


def _check_formats(
    model_format: str,
    layer_format: str,
    compression: str,
    legacy_manifest: bool,
    modelpack_config: Mapping[str, str] | None,
) -> None:
    """Every combination that cannot be written is refused before anything is read."""
    if model_format not in MODEL_FORMATS:
        raise UsageError(f"invalid model format {model_format!r}: must be 'kit' or 'modelpack'")
    if layer_format not in LAYER_FORMATS:
        raise UsageError(
            f"invalid layer format {layer_format!r}: must be 'tar', 'raw' or 'native'",
            hint="tar: one archive per Kitfile entry; raw: one file per entry; native: one file per layer",
        )
    if legacy_manifest and (model_format != "kit" or layer_format != "tar"):
        raise UsageError("the v1.7 manifest form holds only Kit-format tar layers")
    if model_format == "kit" and layer_format == "native":
        raise UsageError(
            "--layer-format native is for ModelPack only",
            hint="add --use-model-pack, or use --layer-format raw (one file per Kitfile entry)",
        )
    if model_format == "modelpack" and layer_format == "raw" and compression != "none":
        raise UsageError(
            "compression for raw layers is not supported for ModelPack",
            hint="use --compression none with --layer-format raw (ModelPack stores weights uncompressed)",
        )
    if modelpack_config and model_format != "modelpack":
        raise UsageError("ModelPack config values need --use-model-pack")
    if modelpack_config:
        mpw.check_overrides(modelpack_config)


def _plan(
    kitfile: Kitfile, context: Path, ignore: LayerIgnore, model_format: str, layer_format: str
) -> list[LayerSpec]:
    """The layers to build, every path checked before any layer is written."""
    for entry in kitfile.layer_entries():
        check_layer_path(context, entry.path)
    if model_format == "modelpack":
        specs = mpw.plan_modelpack_layers(kitfile, context, ignore, layer_format)
    else:
        specs = plan_layers(kitfile)
        for spec in specs:
            spec.layer_format = layer_format
    for spec in specs:
        if spec.layer_format == "raw" and spec.file is None:
            regular_file(context, spec.clean, spec.path)
    return specs


def _build_layers(
    store: LocalStore,
    plan: PackPlan,
    *,
    progress: Progress,
    cancel: Cancel | None,
    max_workers: int | None,
    cache: PackCache | None,
) -> list[Descriptor]:
    """Every layer, built in parallel threads; the first failure cancels the rest."""
    specs = plan.specs
    workers = max_workers or max(1, min(len(specs), (os.cpu_count() or 1) + 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kit-pack") as pool:
        futures = []
        for s in specs:
            media_type = plan.media_type(s)
            ann = plan.annotations(s)
            if s.layer_format == "raw":
                assert ann is not None  # the v1.7 form has no raw layers (refused up front)
                futures.append(
                    pool.submit(
                        build_raw_layer,
                        store,
                        plan.context,
                        s,
                        plan.layer_compression(s),
                        media_type=media_type,
                        annotations=ann,
                        fixed_mtime=plan.fixed_mtime,
                        progress=progress,
                        cancel=cancel,
                        cache=cache,
                    )
                )
            else:
                futures.append(
                    pool.submit(
                        build_layer,
                        store,
                        plan.context,
                        s,
                        plan.ignore,
                        plan.compression,
                        media_type=media_type,
                        annotations=ann,
                        progress=progress,
                        cancel=cancel,
                        cache=cache,
                    )
                )
        try:
            return [f.result() for f in futures]
        except BaseException:
            if cancel is not None:
                cancel.cancel()
            for f in futures:
                f.cancel()
            raise


class ManifestTarget(Protocol):
    """Where a pack's config blob goes, and the manifests already there that a re-pack of
    unchanged content returns instead of a new one: the local store, or a registry."""

    def put_config(self, media_type: str, data: bytes) -> Descriptor: ...

    def candidates(self, artifact_type: str) -> list[Manifest]: ...

    def read_blob(self, desc: Descriptor) -> bytes: ...


class LocalTarget:
    """The repository ``repo_key`` of the local store; every manifest in it is a candidate."""

    def __init__(self, store: LocalStore, repo_key: str) -> None:
        self.store = store
        self.repo_key = repo_key

    def put_config(self, media_type: str, data: bytes) -> Descriptor:
        config = self.store.put_bytes(media_type, data)
        log.info("Saved configuration: %s", config.digest)
        return config

    def candidates(self, artifact_type: str) -> list[Manifest]:
        return _candidates(self.store, self.repo_key, artifact_type)

    def read_blob(self, desc: Descriptor) -> bytes:
        from kitops.store.base import read_blob_bytes

        return read_blob_bytes(self.store.repository(self.repo_key), desc)


def assemble_manifest(
    plan: PackPlan, layers: list[Descriptor], target: ManifestTarget
) -> tuple[Manifest, bytes]:
    """The manifest of the built ``layers`` (every spec's digests set) and its bytes; the config
    goes to ``target``. Refused when the manifest would be too large for readers and registries."""
    if plan.model_format == "modelpack":
        manifest = _modelpack_manifest(target, plan, layers)
    else:
        manifest = _kit_manifest(target, plan, layers)
    data = manifest.to_bytes()
    if len(data) > MAX_MANIFEST_BYTES:  # readers (and registries) refuse it: better not to write it
        raise UsageError(
            f"the manifest would be {len(data)} bytes with {len(layers)} layers, over the "
            f"{MAX_MANIFEST_BYTES}-byte limit registries and readers enforce",
            hint="pack directories as single layers (--layer-format tar), or split the model into parts",
        )
    return manifest, data


def _kit_manifest(target: ManifestTarget, plan: PackPlan, layers: list[Descriptor]) -> Manifest:
    config = target.put_config(mt.KIT_CONFIG, plan.kitfile.to_config_bytes())
    if plan.legacy_manifest:
        return Manifest(
            config=config,
            layers=tuple(layers),
            annotations={mt.ANNOTATION_CLI_VERSION: LEGACY_CLI_VERSION, **plan.extra},
            layers_null=True,
        )
    candidates = target.candidates(mt.KIT_MANIFEST_ARTIFACT)
    return _reuse_identical(candidates, config, layers, plan.extra) or Manifest(
        config=config,
        layers=tuple(layers),
        annotations={
            mt.ANNOTATION_CLI_VERSION: CLI_VERSION,
            mt.ANNOTATION_CREATED: plan.created,
            **plan.extra,
        },
        media_type=mt.OCI_MANIFEST,
        artifact_type=mt.KIT_MANIFEST_ARTIFACT,
    )


def _modelpack_manifest(target: ManifestTarget, plan: PackPlan, layers: list[Descriptor]) -> Manifest:
    """The ModelPack manifest: its config from the Kitfile, and the Kitfile itself (as the Kit
    config JSON, layer digests included) in an annotation, so a reader gets it back exactly."""
    kitfile = plan.kitfile
    diff_ids = [s.info.diff_id for s in plan.specs if s.info is not None]
    assert len(diff_ids) == len(layers)
    config_value = mpw.modelpack_config(
        kitfile, diff_ids, created=plan.created, overrides=plan.modelpack_config
    )
    ann = {
        mt.ANNOTATION_CLI_VERSION: CLI_VERSION,
        mt.ANNOTATION_CREATED: plan.created,
        mt.ANNOTATION_KITFILE: kitfile.to_config_bytes().decode("utf-8"),
        **plan.extra,
    }
    existing = _reuse_modelpack(target, config_value, layers, ann)
    if existing is not None:
        return existing
    config = target.put_config(mt.MODELPACK_CONFIG, mpw.config_bytes(config_value))
    return Manifest(
        config=config,
        layers=tuple(layers),
        annotations=ann,
        media_type=mt.OCI_MANIFEST,
        artifact_type=mt.MODELPACK_MANIFEST_ARTIFACT,
    )


def _is_ref(path: str) -> bool:
    from kitops.oci.reference import is_modelkit_reference

    return is_modelkit_reference(path)


def _check_annotations(annotations: Mapping[str, str] | None, model_format: str = "kit") -> dict[str, str]:
    extra = dict(annotations or {})
    own: tuple[str, ...] = (mt.ANNOTATION_CLI_VERSION, mt.ANNOTATION_CREATED)
    if model_format == "modelpack":
        own += (mt.ANNOTATION_KITFILE,)
    for k, v in extra.items():
        if not isinstance(k, str) or not k or not isinstance(v, str):
            raise UsageError(
                f"invalid manifest annotation {k!r}: {v!r}",
                hint="annotations map non-empty strings to strings",
            )
        if k in own:
            raise UsageError(
                f"manifest annotation {k} is written by kit itself", hint="use your own annotation key"
            )
    return extra


def _candidates(store: LocalStore, repo_key: str, artifact_type: str) -> list[Manifest]:
    """The readable manifests of ``artifact_type`` in the repository (reuse candidates)."""
    from kitops.errors import FormatError, IntegrityError, NotFoundError

    out = []
    for desc in store.repository(repo_key).manifests():
        try:
            existing = store.read_manifest(desc)
        except (FormatError, NotFoundError, IntegrityError):
            # not a manifest we can compare (an index, a blob gone or damaged): no candidate for reuse
            continue
        if existing.artifact_type == artifact_type:
            out.append(existing)
    return out


def _reuse_identical(
    candidates: list[Manifest],
    config: Descriptor,
    layers: list[Descriptor],
    annotations: Mapping[str, str],
) -> Manifest | None:
    """Re-packing unchanged content returns the existing ModelKit (same digest, no orphan),
    provided it already carries the requested extra annotations."""
    for existing in candidates:
        if (
            existing.config.digest == config.digest
            and list(existing.layers) == list(layers)
            and all((existing.annotations or {}).get(k) == v for k, v in annotations.items())
        ):
            return existing
    return None


def _reuse_modelpack(
    target: ManifestTarget,
    config: Mapping[str, object],
    layers: list[Descriptor],
    annotations: Mapping[str, str],
) -> Manifest | None:
    """Re-packing an unchanged ModelPack returns the existing one, as for the Kit format. Its
    config differs from ours only by ``createdAt`` (a pack time), so that key is not compared;
    every other annotation (the Kitfile, the extra ones) must match."""
    from kitops.errors import KitError

    compared = {
        k: v for k, v in annotations.items() if k not in (mt.ANNOTATION_CREATED, mt.ANNOTATION_CLI_VERSION)
    }
    for existing in target.candidates(mt.MODELPACK_MANIFEST_ARTIFACT):
        have = existing.annotations or {}
        if list(existing.layers) != list(layers) or any(have.get(k) != v for k, v in compared.items()):
            continue
        try:
            theirs = json.loads(target.read_blob(existing.config))
        except (KitError, ValueError):
            continue
        if isinstance(theirs, dict) and isinstance(theirs.get("descriptor"), dict):
            theirs["descriptor"].pop("createdAt", None)
            ours = json.loads(mpw.config_bytes(config))
            ours["descriptor"].pop("createdAt", None)
            if theirs == ours:
                return existing
    return None
