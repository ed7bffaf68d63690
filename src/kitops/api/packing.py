"""``kit pack`` and ``kit unpack`` (local and remote), with pack-time provenance and ``pack --push``."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kitops.api._common import Home, _push_stored_parents, _remotes, _resolve_local, local_store, log
from kitops.api.kitfiles import find_kitfile, load_kitfile
from kitops.api.signing import KeySource, _public_key, _verify_before_use
from kitops.errors import NotFoundError, UsageError
from kitops.kitfile.model import Kitfile
from kitops.modelkit.read import ModelKit, load_modelkit, load_modelkit_at
from kitops.netopts import NetworkKeywords, build_network, check_keywords
from kitops.oci.reference import DEFAULT_REGISTRY, Reference, parse_reference, parse_single, validate_tag
from kitops.progress import Cancel, Progress
from kitops.settings import cache_dir, kitops_home
from kitops.store.layout import LocalRepository, LocalStore

if TYPE_CHECKING:  # types only: httpx, the registry client and the pack/unpack code load when a command runs
    import datetime

    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; only type checkers read it

    from kitops.modelkit.pack import PackResult
    from kitops.modelkit.unpack import UnpackFilter, UnpackResult
    from kitops.registry.remote import NetworkOptions
    from kitops.signing.keys import VerifyKey
    from kitops.signing.provenance import PackInputs, ReferrerRepository
    from kitops.store.base import ReadableStore


def pack(
    context_dir: str | os.PathLike[str],
    *,
    kitfile: str | os.PathLike[str] | Kitfile | None = None,
    kitfile_text: str | None = None,
    tag: str | Sequence[str] | None = None,
    compression: str = "none",
    legacy_manifest: bool = False,
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    annotations: Mapping[str, str] | None = None,
    model_format: str = "kit",
    layer_format: str = "tar",
    modelpack_config: Mapping[str, str] | None = None,
    push: bool = False,
    provenance: bool = False,
    **net: Unpack[NetworkKeywords],
) -> PackResult:
    """Pack ``context_dir`` into a ModelKit in the local store (or, with ``push``, a registry).

    ``kitfile`` is a path (relative paths resolve against the current directory,
    not the context, where the reference resolved them) or a :class:`Kitfile`; default: the
    context's ``Kitfile``. ``tag`` is ``repo:tag[,tag2...]`` or a list of refs.
    ``annotations`` are extra manifest annotations (e.g. provenance of an import).

    ``model_format="modelpack"`` writes the CNCF ModelPack format (the Kitfile travels in a
    manifest annotation). ``layer_format`` is ``"tar"`` (one archive per Kitfile entry),
    ``"raw"`` (one file's bytes per entry; every path must be a regular file) or, for
    ModelPack, ``"native"`` (each weights directory becomes one raw layer per file, so
    registries store shared shards once). ``modelpack_config`` sets ModelPack config values by
    dotted key, e.g. ``{"config.paramSize": "8B", "descriptor.family": "llama3"}``.

    ``push=True`` builds the layers straight into the registry of ``tag`` (which must name one)
    and stores nothing locally; the network keywords (``plain_http``, ``concurrency``,
    ``upload_mode``...) are those of :func:`push` and are refused without ``push``. The result
    is what a local pack followed by :func:`push` gives: the same manifest, config and layers.

    ``provenance=True`` also records a SLSA v1 provenance statement of this pack (the Kitfile's
    digest, the parameters, the git commit of the context when it is in a work tree, the kit
    version, the times: ``SOURCE_DATE_EPOCH``'s when set), unsigned, as a referrer of the packed
    manifest beside it: pushes carry it, ``kit discover`` lists it, ``kit attest`` can sign it.
    """
    from kitops.modelkit.pack import pack as _pack
    from kitops.modelkit.packcache import PackCache

    check_keywords("pack", net)
    if net and not push:
        raise UsageError(
            f"network options ({', '.join(sorted(net))}) apply only when packing with push=True",
            hint="add push=True to pack straight into a registry, or leave the network options out",
        )

    if isinstance(kitfile, Kitfile):
        kf = kitfile
    elif kitfile_text is not None:
        kf = load_kitfile(text=kitfile_text)
    else:
        kf = load_kitfile(kitfile if kitfile is not None else find_kitfile(context_dir))
    refs: list[Reference] = []
    if tag:
        texts = [tag] if isinstance(tag, str) else list(tag)
        for text in texts:
            ref, extra = parse_reference(text)
            refs.append(ref)
            refs.extend(ref.with_tag(t) for t in extra if t)
    for ref in refs:  # every tag checked before anything is written: a bad one stores nothing
        if ref.tag:
            validate_tag(ref.tag)
    store = local_store(home)
    facts = (
        _provenance_inputs(context_dir, kitfile, kitfile_text, tag, compression, model_format, layer_format)
        if provenance
        else None
    )
    if push:
        return _pack_push(
            context_dir,
            store=store,
            kitfile=kf,
            refs=refs,
            compression=compression,
            legacy_manifest=legacy_manifest,
            home=home,
            progress=progress,
            cancel=cancel,
            annotations=annotations,
            model_format=model_format,
            layer_format=layer_format,
            modelpack_config=modelpack_config,
            network=build_network("pack", net),
            facts=facts,
        )
    with store.leased():  # blobs found or written stay until the manifest is indexed, whatever runs beside
        result = _pack(
            context_dir,
            store=store,
            kitfile=kf,
            refs=refs,
            compression=compression,
            legacy_manifest=legacy_manifest,
            progress=progress,
            cancel=cancel,
            annotations=annotations,
            cache=PackCache(cache_dir(kitops_home(home))),
            model_format=model_format,
            layer_format=layer_format,
            modelpack_config=modelpack_config,
        )
        if facts is not None:
            _record_provenance(store.repository(result.repo_key), result, facts)
        return result


@dataclass(frozen=True)
class _ProvenanceFacts:
    inputs: PackInputs
    started: datetime.datetime


def _provenance_inputs(
    context_dir: str | os.PathLike[str],
    kitfile: str | os.PathLike[str] | Kitfile | None,
    kitfile_text: str | None,
    tag: str | Sequence[str] | None,
    compression: str,
    model_format: str,
    layer_format: str,
) -> _ProvenanceFacts:
    """What a pack's provenance records of its inputs, taken before the pack starts."""
    from kitops.signing import provenance as prov

    context = Path(context_dir)
    if isinstance(kitfile, Kitfile):
        name, data = "Kitfile", kitfile.to_yaml().encode()
    elif kitfile_text is not None:
        name, data = "-", kitfile_text.encode()
    else:
        path = Path(kitfile) if kitfile is not None else find_kitfile(context)
        name, data = prov.kitfile_name(context, path), path.read_bytes()
    texts = () if not tag else (tag,) if isinstance(tag, str) else tuple(tag)
    inputs = prov.PackInputs(context, name, data, texts, compression, model_format, layer_format)
    return _ProvenanceFacts(inputs, prov.now())


def _record_provenance(repo: ReferrerRepository, result: PackResult, facts: _ProvenanceFacts) -> None:
    """Store the provenance of the pack ``result`` in ``repo``, as a referrer of its manifest;
    the statement's subject is named by the ModelKit's repository."""
    from kitops.signing import provenance as prov

    prov.record_pack_provenance(
        repo, result.descriptor, result.repo_key, facts.inputs, started=facts.started, finished=prov.now()
    )


def _pack_push(
    context_dir: str | os.PathLike[str],
    *,
    store: LocalStore,
    kitfile: Kitfile,
    refs: list[Reference],
    home: Home,
    network: NetworkOptions,
    progress: Progress | None,
    cancel: Cancel | None,
    compression: str,
    legacy_manifest: bool,
    annotations: Mapping[str, str] | None,
    model_format: str,
    layer_format: str,
    modelpack_config: Mapping[str, str] | None,
    facts: _ProvenanceFacts | None,
) -> PackResult:
    """``pack(push=True)``: plan and check everything, push the ModelKits ``model.path`` names
    that are in local storage (as :func:`push` does), then build the layers into the registry,
    and record the pack's provenance there when ``facts`` are given (over the same connection).
    ``store`` is only read (the Kitfiles of those ModelKits)."""
    from kitops.modelkit.pack import check_refs, plan_pack
    from kitops.modelkit.packcache import PackCache
    from kitops.modelkit.packpush import pack_push

    if not refs or refs[0].registry == DEFAULT_REGISTRY:
        raise UsageError(
            "pushing while packing needs a registry in the tag"
            + (f" ({refs[0].display()} names none)" if refs else ""),
            hint="name the registry: kit pack . -t registry.example.com/team/my-model:v1 --push",
        )
    tags = check_refs(refs, refs[0].repo_key)
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
    with _remotes(home, network) as remotes:
        _push_stored_parents(store, kitfile, refs[0], refs[0], remotes, progress, cancel)
        result = pack_push(
            plan,
            remotes.repository(refs[0]),
            tags,
            progress=progress,
            cancel=cancel,
            concurrency=remotes.options.concurrency,
            cache=PackCache(cache_dir(kitops_home(home))),
        )
        if facts is not None:
            _record_provenance(remotes.repository(parse_single(result.pushed_to or "")), result, facts)
        return result


def unpack(
    ref: str,
    *,
    target_dir: str | os.PathLike[str] = ".",
    filters: Sequence[str | UnpackFilter] = (),
    overwrite: bool = False,
    ignore_existing: bool = False,
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    verify_key: KeySource | None = None,
    **net: Unpack[NetworkKeywords],
) -> UnpackResult:
    """Unpack a ModelKit into ``target_dir`` (parents first, filtered).

    From local storage when it is there; otherwise straight from its registry,
    fetching only the selected layers and verifying each before files get their names.
    The network keywords matter only for that remote case. With ``verify_key`` (a public key:
    path or PEM bytes) the ModelKit must carry a signature that key verifies, where it is read
    from, before any layer is read: otherwise :class:`~kitops.signing.errors.SignatureError`
    and nothing is written. (Its ``model.path`` parents are not checked: sign and name them
    by digest.)
    """
    from kitops.modelkit.unpack import UnpackFilter, check_filters, filters_for_parent, unpack_modelkit

    check_keywords("unpack", net)
    parsed = [f if isinstance(f, UnpackFilter) else UnpackFilter.parse(f) for f in filters]
    public_key = _public_key(verify_key) if verify_key is not None else None
    try:
        store, parsed_ref, kit = _resolve_local(ref, home)
    except NotFoundError:
        target_ref = parse_single(ref)
        if target_ref.registry == "localhost":
            raise
        return _unpack_remote(
            target_ref,
            target_dir,
            parsed,
            overwrite,
            ignore_existing,
            home,
            build_network("unpack", net),
            progress,
            cancel,
            public_key,
        )
    if public_key is not None:
        _verify_before_use(store.repository(parsed_ref.repo_key), kit.descriptor, parsed_ref, public_key)
    check_filters(kit, parsed)
    parent_filters = filters_for_parent(parsed)
    if parent_filters:  # parents give only model layers: with none selected, none is even read
        for repo, parent in reversed(_local_parents(store, kit, parsed_ref)):  # farthest first
            unpack_modelkit(
                repo,
                parent,
                target_dir,
                filters=parent_filters,
                overwrite=overwrite,
                ignore_existing=ignore_existing,
                include_kitfile=False,
                progress=progress,
                cancel=cancel,
            )
    return unpack_modelkit(
        store.repository(parsed_ref.repo_key),
        kit,
        target_dir,
        filters=parsed,
        overwrite=overwrite,
        ignore_existing=ignore_existing,
        progress=progress,
        cancel=cancel,
    )


def _unpack_remote(
    ref: Reference,
    target: str | os.PathLike[str],
    filters: list[UnpackFilter],
    overwrite: bool,
    ignore_existing: bool,
    home: Home,
    network: NetworkOptions,
    progress: Progress | None,
    cancel: Cancel | None,
    verify_key: VerifyKey | None = None,
) -> UnpackResult:
    from kitops.modelkit.references import walk_parents
    from kitops.modelkit.unpack import check_filters, filters_for_parent, unpack_modelkit

    with _remotes(home, network) as remotes:
        repo = remotes.repository(ref)
        root = repo.resolve(ref.reference)
        if verify_key is not None:
            _verify_before_use(repo, root, ref, verify_key)
        kit = load_modelkit_at(repo, root)
        check_filters(kit, filters)

        def load(pref: Reference) -> tuple[Kitfile, tuple[ReadableStore, ModelKit]]:
            prepo = remotes.repository(pref)
            parent = load_modelkit_at(prepo, prepo.resolve(pref.reference))
            return parent.kitfile, (prepo, parent)

        # every ancestor is read (a broken chain fails) before anything is written
        parents = list(walk_parents(kit.kitfile, ref.display(), load, registry=ref.registry))
        parent_filters = filters_for_parent(filters)
        if parent_filters:
            for path, (prepo, parent) in reversed(parents):  # farthest first, like the local path
                log.info("Unpacking referenced modelkit %s", path)
                unpack_modelkit(
                    prepo,
                    parent,
                    target,
                    filters=parent_filters,
                    overwrite=overwrite,
                    ignore_existing=ignore_existing,
                    include_kitfile=False,
                    progress=progress,
                    cancel=cancel,
                    concurrency=remotes.options.concurrency,
                )
        return unpack_modelkit(
            repo,
            kit,
            target,
            filters=filters,
            overwrite=overwrite,
            ignore_existing=ignore_existing,
            include_kitfile=None if filters else True,
            progress=progress,
            cancel=cancel,
            concurrency=remotes.options.concurrency,
        )


def _local_parents(
    store: LocalStore, kit: ModelKit, ref: Reference
) -> list[tuple[LocalRepository, ModelKit]]:
    """The stored ModelKits ``kit``'s ``model.path`` references lead to, nearest first, with their
    repositories; all read before the caller writes anything. Each is announced as it is reached,
    nearest first, as the reference CLI logs its recursion."""
    from kitops.modelkit.references import walk_parents

    def read(where: Reference, pref: Reference) -> tuple[Kitfile, tuple[LocalRepository, ModelKit]]:
        repo = store.repository(where.repo_key)
        parent = load_modelkit(repo, where.reference, display=pref.display())
        return parent.kitfile, (repo, parent)

    def load(pref: Reference) -> tuple[Kitfile, tuple[LocalRepository, ModelKit]]:
        # A parent named without a registry was stored beside a pulled child (kit pull puts it on the
        # child's registry); one packed here lives under localhost: try the child's registry first.
        if ref.registry != DEFAULT_REGISTRY and pref.registry == DEFAULT_REGISTRY:
            try:
                return read(dataclasses.replace(pref, registry=ref.registry), pref)
            except NotFoundError:
                pass
        return read(pref, pref)

    parents = []
    for path, found in walk_parents(kit.kitfile, ref.display(), load):
        log.info("Unpacking referenced modelkit %s", path)
        parents.append(found)
    return parents
