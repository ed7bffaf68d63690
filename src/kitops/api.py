"""The public Python API of kitops: one function per ``kit`` command.

The CLI is a thin layer over exactly these functions. Options are keyword-only and
named as the CLI flags are (``compression``, ``filters``, ``overwrite``...). Every
function takes ``home`` (the ``$KITOPS_HOME`` to use; default: resolved like the
Go CLI) and raises :mod:`kitops.errors` types; none prints, prompts or chdirs. Every function
that talks to a registry takes the same network keywords (:class:`kitops.netopts.NetworkKeywords`:
``plain_http``, ``tls_verify``, ``concurrency``, ..., ``network``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from kitops.errors import FormatError, IntegrityError, KitError, NotFoundError, UsageError
from kitops.kitfile.model import Kitfile
from kitops.modelkit.listing import NONE, ModelKitSummary, repo_display
from kitops.modelkit.read import ModelKit, load_modelkit, load_modelkit_at
from kitops.netopts import NetworkFlags, NetworkKeywords, build_network, check_keywords
from kitops.oci import gojson
from kitops.oci.models import Descriptor, Manifest
from kitops.oci.reference import DEFAULT_REGISTRY, Reference, parse_reference, parse_single, validate_tag
from kitops.progress import Cancel, Progress
from kitops.settings import cache_dir, kitops_home, storage_dir
from kitops.store.layout import LocalRepository, LocalStore

if TYPE_CHECKING:  # httpx and the registry client load only when a remote command runs; pack and unpack
    # only when they do (a pull needs neither)
    import datetime

    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; only type checkers read it

    from kitops.imagebuild.inspect import ImageSummary
    from kitops.imagebuild.layers import ImageLayer
    from kitops.importers.staging import ImportedModelKit, StagedImport
    from kitops.modelkit.diff import ModelKitDiff
    from kitops.modelkit.pack import PackResult
    from kitops.modelkit.unpack import UnpackFilter, UnpackResult
    from kitops.registry.remote import NetworkOptions, Remotes
    from kitops.signing.attach import Artifact
    from kitops.signing.cosign import ReferrerStore
    from kitops.signing.keys import SigningKey, VerifyKey
    from kitops.signing.provenance import PackInputs, ReferrerRepository
    from kitops.signing.verify import VerifiedAttestation, VerifiedSignature
    from kitops.store.base import ReadableStore, Store

log = logging.getLogger(__name__)

Home = str | os.PathLike[str] | None
KITFILE_NAMES = ("Kitfile", "kitfile", ".kitfile")


def local_store(home: Home = None) -> LocalStore:
    return LocalStore(storage_dir(kitops_home(home)))


# ---------------------------------------------------------------------------------------------
# Kitfiles


def find_kitfile(context_dir: str | os.PathLike[str]) -> Path:
    """The context's Kitfile (``Kitfile``, ``kitfile`` or ``.kitfile``, in that order).

    A name that is there but is neither a file nor a directory (a FIFO, a link to ``/dev/zero``)
    is refused rather than read: reading it could block or never end.
    """
    from kitops.errors import KitfileError

    context = Path(context_dir)
    for name in KITFILE_NAMES:
        candidate = context / name
        if candidate.is_file():
            return candidate
        if candidate.exists() and not candidate.is_dir():
            raise KitfileError(
                f"{candidate} is not a regular file",
                hint="make the Kitfile a plain file, or name one with -f",
            )
    raise NotFoundError(
        f"No Kitfile found in {context.absolute()}. Consider using the -f flag to specify its path",
        hint=f"create one with: kit init {context_dir}",
    )


def load_kitfile(path: str | os.PathLike[str] | None = None, *, text: str | None = None) -> Kitfile:
    """Load and strictly parse a Kitfile from ``path`` or from ``text``."""
    from kitops.kitfile.load import load_kitfile_text, read_kitfile

    if text is None:
        if path is None:
            raise UsageError("load_kitfile needs a path or text")
        text = read_kitfile(path)  # bounded (the path may be /dev/zero), UTF-8 or UTF-16 with a BOM
    return load_kitfile_text(text, source=str(path) if path else "<stdin>")


# ---------------------------------------------------------------------------------------------
# pack / unpack


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
        result = _pack_push(
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
        )
        if provenance:
            with _remotes(home, build_network("pack", net)) as remotes:
                repo = remotes.repository(parse_single(result.pushed_to or ""))
                _record_provenance(repo, result, facts)
        return result
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
        if provenance:
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
) -> _ProvenanceFacts | None:
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


def _record_provenance(repo: ReferrerRepository, result: PackResult, facts: _ProvenanceFacts | None) -> None:
    """Store the provenance of the pack ``result`` in ``repo``, as a referrer of its manifest;
    the statement's subject is named by the ModelKit's repository."""
    from kitops.signing import provenance as prov

    assert facts is not None
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
) -> PackResult:
    """``pack(push=True)``: plan and check everything, push the ModelKits ``model.path`` names
    that are in local storage (as :func:`push` does), then build the layers into the registry.
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
        return pack_push(
            plan,
            remotes.repository(refs[0]),
            tags,
            progress=progress,
            cancel=cancel,
            concurrency=remotes.options.concurrency,
            cache=PackCache(cache_dir(kitops_home(home))),
        )


def _push_stored_parents(
    store: LocalStore,
    kitfile: Kitfile,
    base: Reference,
    dst_ref: Reference,
    remotes: Remotes,
    progress: Progress | None,
    cancel: Cancel | None,
    *,
    referrers: bool = True,
) -> None:
    """Push the ancestors of ``kitfile`` (whose own reference ``base`` resolves relative
    parent names) that are in local storage, farthest first: a registry then never holds a
    child without its parent. One named without a registry goes to ``dst_ref``'s. The chain ends
    at the first ancestor not stored locally (it lives only on a registry: nothing to push)."""
    from kitops import transfer
    from kitops.modelkit.references import walk_parents

    def load(pref: Reference) -> tuple[Kitfile, Reference] | None:
        try:
            parent = load_modelkit(store.repository(pref.repo_key), pref.reference)
        except NotFoundError:
            return None
        return parent.kitfile, pref

    parents = [pref for _path, pref in walk_parents(kitfile, base.display(), load)]
    for pref in reversed(parents):
        target = (
            pref
            if pref.registry != DEFAULT_REGISTRY
            else dataclasses.replace(pref, registry=dst_ref.registry)
        )
        transfer.copy(
            store.repository(pref.repo_key),
            pref.reference,
            remotes.repository(target),
            dst_ref=target.tag,
            concurrency=remotes.options.concurrency,
            progress=progress,
            cancel=cancel,
            referrers=referrers,
        )


def _resolve_local(ref_text: str, home: Home) -> tuple[LocalStore, Reference, ModelKit]:
    ref = parse_single(ref_text)
    store = local_store(home)
    kit = load_modelkit(store.repository(ref.repo_key), ref.reference, display=ref.display())
    return store, ref, kit


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


# ---------------------------------------------------------------------------------------------
# list / inspect / info


def list_modelkits(repository: str | None = None, *, home: Home = None) -> list[ModelKitSummary]:
    """Every ModelKit in local storage (repos by name, manifests by digest, tags sorted)."""
    store = local_store(home)
    keys = store.repo_keys()
    if repository:
        ref, _ = parse_reference(repository)
        keys = [k for k in keys if k == ref.repo_key]
    out = []
    for key in keys:
        repo = store.repository(key)
        tag_map = repo.tag_map()
        for desc in sorted(repo.manifests(), key=lambda d: d.digest):
            tags = sorted(t for t, d in tag_map.items() if d.digest == desc.digest)
            kit = _listed_modelkit(repo, desc, key, quiet=_referrer_check(store, desc, tags))
            if kit is None:
                continue
            pkg = kit.kitfile.package
            out.append(
                ModelKitSummary(
                    repo=repo_display(key),
                    digest=desc.digest,
                    tags=tuple(tags) if tags else None,
                    model_name=pkg.name or NONE,
                    size=sum(layer.size for layer in kit.manifest.layers),
                    author=pkg.authors[0] if pkg.authors else NONE,
                )
            )
    return out


def _listed_modelkit(
    repo: ReadableStore, desc: Descriptor, where: str, *, quiet: Callable[[], bool] | None = None
) -> ModelKit | None:
    """The ModelKit ``desc`` names, for a listing; None for a manifest that is not one.

    A repository may hold other artifacts (an index, a signature, a referrers tag), and a
    manifest whose config is missing or damaged must not hide the rest of the list: those are
    passed over, the damaged ones with a warning, unless ``quiet()`` says the entry is no
    ModelKit anyway (a signature whose blobs were never stored is no damage worth a warning).
    Anything else (a lost connection, refused credentials, an unreadable store) is no property
    of the entry and is raised.
    """
    try:
        return load_modelkit_at(repo, desc)
    except FormatError as exc:
        log.debug("%s@%s is not listed: %s", where, desc.digest, exc.message)
    except (NotFoundError, IntegrityError) as exc:
        level = logging.DEBUG if quiet is not None and quiet() else logging.WARNING
        log.log(level, "%s@%s is not listed: %s", where, desc.digest, exc.message)
    return None


def _referrer_check(store: LocalStore, desc: Descriptor, tags: Sequence[str]) -> Callable[[], bool]:
    """Whether a stored manifest is a referrer (it names a ``subject``) or tagged only by a
    signing scheme (cosign's ``sha256-<hex>.sig``...): asked only when it does not load."""
    from kitops.store.referrers import is_scheme_tag

    def check() -> bool:
        if tags and all(is_scheme_tag(t) for t in tags):
            return True
        subject, _entry = store.subject_entry(desc)
        return subject is not None

    return check


@dataclass(frozen=True)
class InspectResult:
    digest: str
    cli_version: str
    kitfile: Kitfile
    manifest: Manifest
    kitfile_generated: bool = False  # the artifact carries none: ``kitfile`` was made from its layers

    def to_go(self) -> dict[str, object]:
        """The Go kit's JSON: ``kitfile`` only when the artifact carries one (not a generated one)."""
        out: dict[str, object] = {"digest": self.digest, "cliVersion": self.cli_version}
        if not self.kitfile_generated:
            out["kitfile"] = self.kitfile.to_config_dict()
        out["manifest"] = self.manifest.to_go()
        return out

    def to_json(self) -> str:
        return gojson.dumps(self.to_go(), indent="  ")


def inspect(
    ref: str, *, home: Home = None, remote: bool = False, **net: Unpack[NetworkKeywords]
) -> InspectResult:
    """Digest, CLI version, Kitfile and manifest of a stored (or, with ``remote``, a registry's) ModelKit."""
    from kitops.oci import mediatypes as mt

    check_keywords("inspect", net)
    kit = _local_or_remote(ref, home, remote, net)
    version = (kit.manifest.annotations or {}).get(mt.ANNOTATION_CLI_VERSION, "unknown")
    return InspectResult(kit.descriptor.digest, version, kit.kitfile, kit.manifest, kit.kitfile_generated)


def info(ref: str, *, home: Home = None, remote: bool = False, **net: Unpack[NetworkKeywords]) -> Kitfile:
    """The Kitfile of a stored (or, with ``remote``, a registry's) ModelKit; see :func:`inspect`."""
    check_keywords("info", net)
    return _local_or_remote(ref, home, remote, net).kitfile


def _local_or_remote(ref: str, home: Home, remote: bool, net: NetworkKeywords) -> ModelKit:
    """``remote`` reads the registry only; otherwise local storage, then the registry the reference
    names (as unpack does), so ``kit info registry/repo:tag`` works without a pull. The network
    options are built only when the registry is asked (a local read loads no HTTP code)."""
    if remote:
        return remote_modelkit(ref, home=home, **net)
    try:
        return _resolve_local(ref, home)[2]
    except NotFoundError as local_error:
        parsed = parse_single(ref)
        if parsed.registry == DEFAULT_REGISTRY:
            raise
        log.info("%s is not in local storage; reading it from %s", parsed.display(), parsed.registry)
        try:
            return remote_modelkit(ref, home=home, **net)
        except NotFoundError:
            raise NotFoundError(
                f"reference {parsed.display()} is not present in local storage and could not be found in remote",
                hint=f"check the tag with 'kit list {parsed.registry}/{parsed.repository}'",
            ) from local_error


def filter_kitfile_yaml(kitfile: Kitfile, path: str) -> str:
    """``kit info --filter model.parts``: YAML of one node, addressed by YAML keys."""
    import re

    from kitops.kitfile.yamlio import dump_yaml

    if "[" in path:
        raise UsageError("invalid filter: array access using '[]' is not currently supported")
    if not re.fullmatch(r"\.?[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*", path):
        raise UsageError(f"invalid filter: invalid filter: {path}")
    node: object = kitfile.to_yaml_value()
    for key in path.lstrip(".").split("."):
        if isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise NotFoundError(
                f"error filtering output: cannot find required node {path}",
                hint="filters use Kitfile keys, e.g. package.name, model.parts, datasets",
            )
    return dump_yaml(node)


# ---------------------------------------------------------------------------------------------
# tag / remove / diff


def tag(
    source: str,
    target: str,
    *,
    home: Home = None,
    remote: bool | None = None,
    referrers: bool = True,
    **net: Unpack[NetworkKeywords],
) -> tuple[Reference, Reference]:
    """Tag ``source`` as ``target``.

    In local storage when ``source`` is there (the reference's behaviour). Otherwise — or
    with ``remote=True`` — on the registries, which is how dev→prod promotion works without
    a download: within one repository only the manifest is PUT under the new tag; to another
    repository of the same registry blobs are mounted; to another registry they are streamed
    through the copy engine, verified, and never stored locally (``upload_mode`` and
    ``chunk_size`` apply to that case).

    Tagged into another repository, the ModelKit takes its ``referrers`` along (signatures,
    attestations, SBOMs: what names it as ``subject``, and cosign's ``sha256-<hex>.sig``...
    tags), so a later push or pull of the new name carries them; ``referrers=False`` leaves them.
    """
    check_keywords("tag", net)
    src, _ = parse_reference(source)
    dst, _ = parse_reference(target)
    store = local_store(home)
    if not remote:
        try:
            desc = store.repository(src.repo_key).resolve(src.reference)
        except NotFoundError:
            if remote is False or src.registry == DEFAULT_REGISTRY:
                raise NotFoundError(
                    f"Failed to tag modelkit: model {src.display()} not found",
                    hint="run 'kit list' to see what is stored",
                ) from None
        else:
            target_repo = store.repository(dst.repo_key)
            target_repo.tag(desc, dst.tag or "latest")
            if referrers and src.repo_key != dst.repo_key:
                from kitops import transfer

                transfer.copy_referrers(store.repository(src.repo_key), target_repo, [desc])
            return src, dst
    if src.registry == DEFAULT_REGISTRY or dst.registry == DEFAULT_REGISTRY:
        raise UsageError(
            "tagging on a registry needs both references to name one",
            hint="kit tag registry.example.com/team/model:dev registry.example.com/team/model:prod",
        )
    from kitops import transfer

    same_repository = (src.registry, src.repository) == (dst.registry, dst.repository)
    with _remotes(home, build_network("tag", net)) as remotes:
        transfer.copy(
            remotes.repository(src),
            src.reference,
            remotes.repository(dst),
            dst_ref=dst.tag or "latest",
            concurrency=remotes.options.concurrency,
            referrers=referrers and not same_repository,  # in one repository they are there already
        )
    return src, dst


@dataclass(frozen=True)
class Removal:
    repo: str
    reference: str
    digest: str
    untagged_only: bool


def remove(
    ref: str | None = None, *, all: bool = False, force: bool = False, home: Home = None
) -> list[Removal]:
    """Remove tags or manifests; deleting a manifest collects the blobs nothing references any more."""
    store = local_store(home)
    if all:
        if ref:
            raise UsageError("modelkit should not be specified when --all flag is used")
        return _remove_all(store, force)
    if not ref:
        raise UsageError("modelkit is required for remove unless --all is specified")
    parsed, extra = parse_reference(ref)
    repo = store.repository(parsed.repo_key)
    out = [_remove_one(repo, parsed, force)]
    for t in extra:  # like the reference: a failure on an extra tag is reported, not fatal
        try:
            out.append(_remove_one(repo, parsed.with_tag(t), force))
        except NotFoundError as exc:
            log.error("Failed to remove tag %s: %s", t, exc)
    return out


def _remove_one(repo: LocalRepository, ref: Reference, force: bool) -> Removal:
    try:
        desc: Descriptor = repo.resolve(ref.reference)
    except NotFoundError:
        raise NotFoundError(
            f"model {ref.display()} not found", hint="run 'kit list' to see what is stored"
        ) from None
    tags = repo.tags_for(desc.digest)
    if ref.tag and len(tags) > 1 and not force:
        repo.untag(ref.tag)
        return Removal(ref.repo_key, ref.display(), desc.digest, True)
    dropped = repo.delete(desc)  # with its signatures and other referrers: they name it alone
    if dropped:
        log.info(
            "Removed %d manifests that refer to %s (signatures, attestations...)", len(dropped), desc.digest
        )
    return Removal(ref.repo_key, ref.display(), desc.digest, False)


def _remove_all(store: LocalStore, force: bool) -> list[Removal]:
    """Every untagged manifest (with ``force``, every one) goes. What refers to a tagged one (its
    signatures, attestations...) is not untagged garbage: it stays with it."""
    out = []
    for key in store.repo_keys():
        repo = store.repository(key)
        tag_map = repo.tag_map()
        live: set[str] = set()
        if not force:
            live = {d.digest for d in tag_map.values()}
            live |= {d.digest for d in repo.dependents(sorted(live), tag_map)}
        gone: set[str] = set()
        for desc in repo.manifests():
            if desc.digest in live or desc.digest in gone:
                continue
            dropped = repo.delete(desc)  # its referrers go with it
            for d in (desc, *dropped):
                if d.digest not in gone:
                    gone.add(d.digest)
                    out.append(Removal(key, f"{repo_display(key)}@{d.digest}", d.digest, False))
    return out


def diff(
    ref_a: str,
    ref_b: str,
    *,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> ModelKitDiff:
    """Compare two ModelKits: both sides' manifests (and configs, where readable), from which
    ``kit diff`` renders its report (:func:`kitops.cli.diff_text.diff_report`).

    ``local://`` forces local storage and ``remote://`` the registry; with neither, local storage
    is tried first, then the registry the reference names. Both are read in parallel. Only the
    manifests are needed: when a config blob cannot be read (deleted locally, missing on the
    registry) the report still has every manifest block, says so in its Kitfile block, and a
    warning is logged. Errors reading a manifest are raised as ``Failed to get manifest for
    ModelKit1: …`` (or ``ModelKit2``) with the error's own type and hint.
    """
    import logging
    from concurrent.futures import ThreadPoolExecutor

    from kitops.modelkit.diff import DiffSide, read_side

    network = build_network("diff", net)  # built here: a bad option is the caller's error, not a side's

    def side(which: str, arg: str, ref: Reference) -> DiffSide:
        where = "remote" if arg.startswith("remote://") else "local" if arg.startswith("local://") else "any"
        try:
            if where != "remote":
                repo = local_store(home).repository(ref.repo_key)
                try:
                    desc = repo.resolve(ref.reference)
                except NotFoundError:
                    if where == "local" or ref.registry == DEFAULT_REGISTRY:
                        raise NotFoundError(
                            f"model {ref.display()} not found",
                            hint="run 'kit list' to see the ModelKits in local storage",
                        ) from None
                else:
                    return read_side(repo, desc, str(ref))
            if ref.registry == DEFAULT_REGISTRY:
                raise UsageError(f"can not check remote: {ref.display()} does not contain registry")
            with _remotes(home, network) as remotes:
                remote = remotes.repository(ref)
                return read_side(remote, remote.resolve(ref.reference), str(ref))
        except KitError as exc:  # the reference's wording, the error's own type and hint
            exc.message = f"Failed to get manifest for {which}: {exc.message}"
            raise

    args = [("ModelKit1", ref_a), ("ModelKit2", ref_b)]
    refs = [parse_single(arg.removeprefix("local://").removeprefix("remote://")) for _which, arg in args]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="kit-diff") as pool:
        futures = [pool.submit(side, which, arg, ref) for (which, arg), ref in zip(args, refs, strict=True)]
        side_a, side_b = (f.result() for f in futures)  # ModelKit1's error first, as the reference
    if (
        side_a.descriptor.digest != side_b.descriptor.digest
        and side_a.manifest.config.digest != side_b.manifest.config.digest
    ):
        for which, s in (("ModelKit1", side_a), ("ModelKit2", side_b)):
            if s.config is None:
                logging.getLogger(__name__).warning(
                    "Kitfiles not compared: the config of %s (%s) could not be read: %s",
                    which,
                    s.reference,
                    s.config_error,
                )
    # Imported on use: only kit diff needs it, and every other command starts faster without it.
    from kitops.modelkit.diff import ModelKitDiff

    return ModelKitDiff(side_a, side_b)


# ---------------------------------------------------------------------------------------------
# cache


def cache_info(*, home: Home = None) -> list[tuple[str, int]]:
    """(entry, bytes) for each entry of ``$KITOPS_HOME/cache`` plus stale store ingest files."""
    root = kitops_home(home)
    out = []
    cache = cache_dir(root)
    if cache.is_dir():
        for child in sorted(cache.iterdir()):
            out.append((f"./{child.name}", _tree_size(child)))
    ingest = storage_dir(root) / "ingest"
    if ingest.is_dir() and any(ingest.iterdir()):
        out.append(("storage/ingest", _tree_size(ingest)))
    return out


def cache_clear(*, home: Home = None) -> int:
    """Remove the cache and partial ingest files; returns the bytes freed."""
    freed = 0
    root = kitops_home(home)
    import time

    stale_before = time.time() - 600  # an ingest file written to in the last 10 minutes may be in use
    for path in (cache_dir(root), storage_dir(root) / "ingest"):
        if path.is_dir():
            for child in path.iterdir():
                if path.name == "ingest" and child.stat().st_mtime > stale_before:
                    continue
                freed += _tree_size(child)
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
    return freed


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                continue
    return total


# ---------------------------------------------------------------------------------------------
# init


def init(
    path: str | os.PathLike[str],
    *,
    name: str = "",
    description: str = "",
    author: str = "",
    force: bool = False,
) -> tuple[Kitfile, Path]:
    """Generate ``path/Kitfile`` from the directory's contents; never overwrites without ``force``."""
    from kitops.errors import AlreadyExistsError
    from kitops.kitfile.generate import generate_kitfile
    from kitops.store.layout import atomic_write

    directory = Path(path)
    if not directory.is_dir():
        raise NotFoundError(f"directory {directory} does not exist")
    target = directory / "Kitfile"
    if target.exists() and not force:
        raise AlreadyExistsError(
            f"Kitfile already exists at {target}. Use '--force' to overwrite",
            hint="kit init --force " + str(path),
        )
    kitfile = generate_kitfile(directory, name=name, description=description, author=author)
    atomic_write(target, kitfile.to_yaml().encode("utf-8"))
    return kitfile, target


# ---------------------------------------------------------------------------------------------
# import: Hugging Face and git repositories


def import_hf(
    source: str,
    *,
    tag: str | None = None,
    ref: str | None = None,
    token: str | None = None,
    kitfile: str | os.PathLike[str] | Kitfile | None = None,
    kitfile_text: str | None = None,
    tool: str | None = None,
    repo_type: str | None = None,
    concurrency: int = 5,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    edit_kitfile: Callable[[Path], None] | None = None,
) -> ImportedModelKit:
    """``kit import``: pack a Hugging Face repository (or, with ``tool="git"`` or a non-Hub URL, any
    git + LFS repository) into local storage as ``tag`` (default: ``org/name:latest``).

    ``source`` is ``org/name``, ``hf://[datasets/]org/name``, ``https://huggingface.co/org/name``
    or a git URL. ``ref`` is a branch, tag or commit (default ``main``); ``token`` defaults to
    huggingface_hub's (``$HF_TOKEN`` or the saved login) and is never logged or put on a command
    line. ``include`` / ``exclude`` are globs on repository paths (``*.safetensors``,
    ``*Q4_K_M.gguf``, ``onnx/``). ``kitfile`` (a path or a :class:`Kitfile`) or ``kitfile_text``
    replaces the generated Kitfile and limits the download to its paths. Files already in the
    Hugging Face cache are reused once verified.

    ``edit_kitfile`` is called with the path of a generated Kitfile before packing (a front end's
    chance to let the user edit it); the file is then re-read and validated. When the hook fails
    or leaves an invalid Kitfile, nothing is packed, the file is kept, and the error's hint is
    the ``kit import ... -f <path>`` command that resumes.
    """
    from kitops.importers.staging import ImportedModelKit, stage_import

    with stage_import(
        source, tag=tag, ref=ref, token=token, kitfile=kitfile, kitfile_text=kitfile_text, tool=tool,
        repo_type=repo_type, concurrency=concurrency, include=include, exclude=exclude, home=home,
        progress=progress, cancel=cancel,
    ) as staged:  # fmt: skip
        kf = staged.kitfile
        if staged.generated and edit_kitfile is not None:
            resume = _import_command(source, staged, ref, tool, repo_type, include, exclude, token)
            kf = _edited_kitfile(staged, edit_kitfile, resume)
        log.info("Packing model to %s", staged.tag)
        packed = pack(
            staged.tree,
            kitfile=kf,
            tag=staged.tag,
            compression="none",
            home=home,
            progress=progress,
            cancel=cancel,
            annotations=staged.annotations,
        )
    return ImportedModelKit(
        parse_single(staged.tag).display(),
        packed.descriptor.digest,
        packed.kitfile,
        staged.source,
        staged.revision,
        staged.files,
    )


def _import_command(
    source: str,
    staged: StagedImport,
    ref: str | None,
    tool: str | None,
    repo_type: str | None,
    include: Sequence[str],
    exclude: Sequence[str],
    token: str | None,
) -> str:
    """The ``kit import`` command that packs ``staged`` with its kept Kitfile (never the token)."""
    import shlex

    argv = ["kit", "import", source, "-t", staged.tag]
    for flag, value in (("--ref", ref), ("--tool", tool), ("--repo-type", repo_type)):
        if value:
            argv += [flag, value]
    argv += [a for glob in include for a in ("--include", glob)]
    argv += [a for glob in exclude for a in ("--exclude", glob)]
    argv += ["-f", str(staged.kitfile_path)]
    command = shlex.join(argv)
    return command + (" (with --token or HF_TOKEN again)" if token else "")


def _edited_kitfile(staged: StagedImport, edit: Callable[[Path], None], resume: str) -> Kitfile:
    """``staged``'s Kitfile written out, handed to ``edit``, read back and validated against the
    staged tree; on any failure the file is kept and the error says how to resume."""
    from kitops.errors import KitfileError
    from kitops.kitfile.validate import config_problems, find_problems
    from kitops.store.layout import atomic_write

    path = staged.kitfile_path
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, staged.kitfile.to_yaml().encode("utf-8"))
    try:
        edit(path)
        edited = load_kitfile(path)
        problems = find_problems(edited, staged.tree) + config_problems(edited)
        if problems:
            raise KitfileError("the Kitfile is not valid", problems=problems)
    except KitError as exc:
        raise KitfileError(
            f"Kitfile {path} not used: {exc.message}",
            hint=f"the file is kept; fix it, then run: {resume}",
        ) from None
    return edited


# ---------------------------------------------------------------------------------------------
# registries: login / logout / push / pull / remote reads


def network_options(network: NetworkOptions | None = None, **flags: Unpack[NetworkFlags]) -> NetworkOptions:
    """The network keywords of the remote functions as one ``NetworkOptions``.

    Every remote function takes the CLI's flags as plain keywords (what SDK users want)
    and also ``network=`` (a ready ``NetworkOptions``, e.g. with an injected ``transport``
    in tests); this builds the same value those functions build, for callers that keep one.
    ``network`` is the base; each keyword given with a non-default value overrides the matching
    field, so ``network=`` plus ``concurrency=2`` does what it says. ``concurrency`` below 1 is
    refused here (``UsageError``), not silently ignored; an unknown keyword is a ``TypeError``.
    """
    return build_network("network_options", {**flags, "network": network})


def _remotes(home: Home, network: NetworkOptions) -> Remotes:
    from kitops.registry.remote import Remotes

    return Remotes(kitops_home(home), network)


def login(
    registry: str,
    *,
    username: str = "",
    password: str = "",
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> None:
    """Check the credentials against ``GET /v2/`` and store them (mode 0600). A password without
    a username is stored as an identity (refresh) token, as docker does."""
    from kitops.errors import AuthenticationError
    from kitops.registry.auth import Credential

    network = build_network("login", net)
    if not password:
        raise UsageError("a password is required", hint="use --password-stdin to pass it safely")
    cred = (
        Credential(username=username, password=password) if username else Credential(identity_token=password)
    )
    with _remotes(home, network) as remotes:
        client = remotes.client(registry, credentials=lambda _r: cred)  # exactly these credentials
        try:
            client.request("GET", "/v2/", scope="", expect=(200,))
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"failed to validate the credentials for {registry}: {exc.message}",
                hint="check the username and password (or token)",
            ) from None
        remotes.credentials.save(registry, Credential(username=username, password=password))


def logout(registry: str, *, home: Home = None) -> bool:
    from kitops.registry.credentials import CredentialStore

    return CredentialStore(kitops_home(home)).remove(registry)


@dataclass(frozen=True)
class TransferResult:
    reference: Reference
    descriptor: Descriptor


def push(
    source: str,
    destination: str | None = None,
    *,
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    referrers: bool = True,
    **net: Unpack[NetworkKeywords],
) -> TransferResult:
    """Copy a ModelKit (and the ModelKits its model.path references) from local storage to a registry.

    ``upload_mode`` is ``auto``, ``monolithic`` or ``chunked``; ``chunk_size`` is in bytes
    (the CLI's ``--chunk-size`` is in MiB). Its ``referrers`` in local storage (signatures,
    attestations, provenance: what names it as ``subject``, and cosign's ``sha256-<hex>.sig``,
    ``.att``, ``.sbom`` tags) go with it, before the tag is set; ``referrers=False`` leaves them.
    """
    from kitops import transfer

    network = build_network("push", net)
    src_ref = parse_single(source, what="reference")
    dst_ref = parse_single(destination or source, what="target reference")
    if dst_ref.registry == "localhost":
        raise UsageError(
            "registry is required when pushing",
            hint="name the registry: kit push my-model:v1 registry.example.com/team/my-model:v1",
        )
    store = local_store(home)
    src_repo = store.repository(src_ref.repo_key)
    kit = load_modelkit(src_repo, src_ref.reference, display=src_ref.display())
    with _remotes(home, network) as remotes:
        _push_stored_parents(
            store, kit.kitfile, src_ref, dst_ref, remotes, progress, cancel, referrers=referrers
        )
        desc = transfer.copy(
            src_repo,
            src_ref.reference,
            remotes.repository(dst_ref),
            dst_ref=dst_ref.tag,
            concurrency=remotes.options.concurrency,
            progress=progress,
            cancel=cancel,
            referrers=referrers,
        )
    return TransferResult(dst_ref, desc)


def pull(
    ref: str,
    *,
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    referrers: bool = True,
    verify_key: KeySource | None = None,
    **net: Unpack[NetworkKeywords],
) -> TransferResult:
    """Copy a ModelKit from a registry into local storage (verified, resumable), then its parents
    (each into its own repository, not the child's). Its ``referrers`` on the registry
    (signatures, attestations... by the referrers API or its tag-schema index, and cosign's
    ``sha256-<hex>.sig``/``.att``/``.sbom`` tags) come with it; ``referrers=False`` leaves them.
    With ``verify_key`` (a public key: path or PEM bytes) the ModelKit must carry a signature on
    the registry that key verifies before anything of it is fetched: otherwise
    :class:`~kitops.signing.errors.SignatureError` and nothing is stored."""
    from kitops import transfer
    from kitops.modelkit.references import MAX_REFERENCE_DEPTH, walk_parents

    network = build_network("pull", net)
    parsed = parse_single(ref)
    if parsed.registry == "localhost":
        raise UsageError(
            "registry is required when pulling", hint="e.g. kit pull registry.example.com/team/model:v1"
        )
    public_key = _public_key(verify_key) if verify_key is not None else None
    store = local_store(home)
    with _remotes(home, network) as remotes, store.leased():

        def fetch(current: Reference) -> tuple[Kitfile, Descriptor]:
            remote = remotes.repository(current)
            local = store.repository(current.repo_key)
            # manifest and config are checked before anything is stored: a failed pull leaves no tag
            root = remote.resolve(current.reference)
            if public_key is not None and current == parsed:  # the ModelKit named, not its parents
                _verify_before_use(remote, root, current, public_key)
            kit = load_modelkit_at(remote, root)  # any model format (Kit, ModelPack, Docker model)
            if kit.manifest.format is None:
                raise FormatError(f"reference {current} does not refer to a model")
            # the config was just read and verified: kept, the copy need not download it again
            store.put_blob(kit.manifest.config, io.BytesIO(kit.config_bytes))
            desc = transfer.copy(
                remote,
                root,  # resolved already: no second lookup
                local,
                concurrency=remotes.options.concurrency,
                progress=progress,
                cancel=cancel,
                referrers=referrers,
            )
            if current.tag:
                local.tag(desc, current.tag)
            return kit.kitfile, desc

        kitfile, first = fetch(parsed)
        # the reference's pull allows one fewer ancestor than pack and unpack
        for _parent in walk_parents(
            kitfile, parsed.display(), fetch, registry=parsed.registry, limit=MAX_REFERENCE_DEPTH - 1
        ):
            pass  # fetch stores each ancestor as the walk reaches it
    return TransferResult(parsed, first)


def list_remote(
    repository: str, *, home: Home = None, **net: Unpack[NetworkKeywords]
) -> list[ModelKitSummary]:
    """ModelKits of a registry repository: every tag (all pages), or the one named."""
    network = build_network("list_remote", net)
    ref, _ = parse_reference(repository)
    explicit = ":" in repository.rsplit("/", 1)[-1] or "@" in repository
    with _remotes(home, network) as remotes:
        repo = remotes.repository(ref)
        tags = [ref.reference] if explicit else sorted(repo.tags())
        by_digest: dict[str, tuple[ModelKit, list[str]]] = {}
        skipped: set[str] = set()
        for t in tags:
            desc = repo.resolve(t)
            if desc.digest in skipped:
                continue
            if desc.digest not in by_digest:
                kit = _listed_modelkit(repo, desc, f"{ref.registry}/{ref.repository}:{t}")
                if kit is None:
                    skipped.add(desc.digest)
                    continue
                by_digest[desc.digest] = (kit, [])
            by_digest[desc.digest][1].append(t)
        out = []
        for digest, (kit, ktags) in sorted(by_digest.items()):
            pkg = kit.kitfile.package
            tag_list = [] if ref.digest else ktags
            out.append(
                ModelKitSummary(
                    repo=ref.repo_key,
                    digest=digest,
                    tags=tuple(tag_list) or None,
                    model_name=pkg.name or NONE,
                    size=sum(x.size for x in kit.manifest.layers),
                    author=pkg.authors[0] if pkg.authors else NONE,
                )
            )
        return out


def remote_modelkit(ref: str, *, home: Home = None, **net: Unpack[NetworkKeywords]) -> ModelKit:
    """Manifest, config and Kitfile straight from the registry (nothing stored locally)."""
    network = build_network("remote_modelkit", net)
    parsed = parse_single(ref)
    if parsed.registry == "localhost":
        raise UsageError(f"can not check remote: {parsed.display()} does not contain registry")
    with _remotes(home, network) as remotes:
        repo = remotes.repository(parsed)
        return load_modelkit_at(repo, repo.resolve(parsed.reference))


def remove_remote(ref: str, *, home: Home = None, **net: Unpack[NetworkKeywords]) -> Descriptor:
    """Delete a manifest (by tag or digest) from its registry."""
    network = build_network("remove_remote", net)
    parsed = parse_single(ref)
    with _remotes(home, network) as remotes:
        repo = remotes.repository(parsed)
        desc: Descriptor = repo.resolve(parsed.reference)
        repo.delete(desc)
        return desc


# ---------------------------------------------------------------------------------------------
# save / load: ModelKits to and from an OCI image layout (air-gapped transfer)


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


# ---------------------------------------------------------------------------------------------
# signing: key pairs, signatures, attestations, attached artifacts (cosign-compatible)

# A key is a file path, or the PEM bytes themselves. A password is the bytes (or text), or a
# function the key loader calls only when the key turns out to be encrypted (the CLI prompts there).
KeySource = str | os.PathLike[str] | bytes
Password = bytes | str | Callable[[], bytes | str] | None
MAX_KEY_FILE = 1 << 20  # a PEM key is a few KiB; a bigger "key" is a mistake (a model file)
# the envelope (the predicate in base64, signed) must stay a small blob that verifiers read whole
MAX_PREDICATE = 8 << 20


@dataclass(frozen=True)
class KeyPair:
    """A new signing key pair: ``private_key`` is the encrypted PEM for ``cosign.key`` (write it
    with mode 0600), ``public_key`` the PEM for ``cosign.pub``."""

    private_key: bytes
    public_key: bytes


def generate_key_pair(password: bytes | str = b"", *, algorithm: str = "ecdsa-p256") -> KeyPair:
    """A new key pair in cosign's format (``ENCRYPTED SIGSTORE PRIVATE KEY``, scrypt + secretbox);
    an empty password still encrypts. ``algorithm``: ``ecdsa-p256`` (cosign's default),
    ``ecdsa-p384``, ``ecdsa-p521``, ``ed25519``, ``rsa-2048``... Nothing is written: the caller
    stores the bytes."""
    from kitops.signing.keys import generate_key_pair as _generate

    private_key, public_key = _generate(_secret(password), algorithm=algorithm)
    return KeyPair(private_key, public_key)


@dataclass(frozen=True)
class ReferrerResult:
    """What :func:`sign`, :func:`attest` and :func:`attach` stored: ``descriptor`` is the manifest
    holding it (the ``.sig``/``.att`` tag manifest, or a referrer) about ``subject``, kept in local
    storage or (``remote``) on the registry."""

    reference: Reference
    subject: Descriptor
    descriptor: Descriptor
    remote: bool


@dataclass(frozen=True)
class VerifyResult:
    reference: Reference
    subject: Descriptor
    signatures: tuple[VerifiedSignature, ...]


@dataclass(frozen=True)
class AttestationResult:
    reference: Reference
    subject: Descriptor
    attestations: tuple[VerifiedAttestation, ...]


@dataclass(frozen=True)
class DiscoverResult:
    reference: Reference
    subject: Descriptor
    referrers: tuple[Artifact, ...]


def sign(
    ref: str,
    *,
    signing_key: KeySource,
    password: Password = None,
    annotations: Mapping[str, str] | None = None,
    mode: str = "tag",
    remote: bool = False,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> ReferrerResult:
    """Sign the manifest ``ref`` names (its digest) with the private key ``signing_key`` (a path to
    ``cosign.key`` or another PEM key, or its bytes; ``password`` unlocks it), as cosign does.

    ``ref`` is taken from local storage when it is there, else (or with ``remote``) from the
    registry it names, as :func:`info` decides; the signature is stored beside it. ``mode``:
    ``"tag"`` (cosign's ``sha256-<hex>.sig`` tag), ``"referrers"`` (an OCI 1.1 referrer) or
    ``"bundle"`` (a Sigstore bundle referrer, cosign v3). ``annotations`` are signed into the
    payload (cosign's ``-a``). A signature by the same key over the same payload is not added twice.
    """
    from kitops.signing.storage import SIGN_MODES, sign_manifest

    check_keywords("sign", net)
    _check_mode(mode, SIGN_MODES)
    private_key = _signing_key(signing_key, password)  # a wrong key or password costs no request
    with _signing_target("sign", ref, home, remote, net) as (repo, parsed, subject, on_registry):
        desc = sign_manifest(
            repo,
            subject,
            private_key,
            mode=mode,
            docker_reference=parsed.repo_key,
            annotations=_checked_annotations(annotations),
        )
    return ReferrerResult(parsed, subject, desc, on_registry)


def verify(
    ref: str,
    *,
    verify_key: KeySource,
    remote: bool = False,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> VerifyResult:
    """The signatures of ``ref`` that the public key ``verify_key`` (``cosign.pub``: a path, or its
    bytes) verifies, found in all three places
    (the ``.sig`` tag, signature referrers, bundles). Raises
    :class:`~kitops.signing.errors.SignatureError` when none does, saying why: no signature at
    all, none by this key, one for another manifest, or a payload that does not match its digest."""
    from kitops.signing.verify import verify_signatures

    check_keywords("verify", net)
    public_key = _public_key(verify_key)
    with _signing_target("verify", ref, home, remote, net) as (repo, parsed, subject, _on_registry):
        found = verify_signatures(
            repo, subject, public_key, name=parsed.display(), docker_reference=parsed.repo_key
        )
    return VerifyResult(parsed, subject, tuple(found))


def attest(
    ref: str,
    *,
    signing_key: KeySource,
    predicate: str | os.PathLike[str] | bytes,
    predicate_type: str = "custom",
    password: Password = None,
    mode: str = "tag",
    remote: bool = False,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> ReferrerResult:
    """Attest ``ref``: an in-toto statement (subject: its repository and digest) carrying the
    predicate (a file path, or its bytes) of ``predicate_type`` (``slsaprovenance``, ``spdxjson``,
    ``cyclonedx``, ``custom``... or a URI), signed with ``signing_key`` (and ``password``, as
    :func:`sign`) in a DSSE envelope and stored as a layer of the
    ``.att`` tag (``mode="tag"``) or as a referrer (``mode="referrers"``)."""
    from kitops.signing.dsse import predicate_from_bytes, resolve_predicate_type
    from kitops.signing.storage import ATTEST_MODES, attest_manifest

    check_keywords("attest", net)
    _check_mode(mode, ATTEST_MODES)
    type_uri = resolve_predicate_type(predicate_type)
    data = predicate if isinstance(predicate, bytes) else _small_file(predicate, "predicate", MAX_PREDICATE)
    if len(data) > MAX_PREDICATE:
        raise UsageError(f"the predicate is larger than {MAX_PREDICATE} bytes")
    body = predicate_from_bytes(type_uri, data)
    private_key = _signing_key(signing_key, password)
    with _signing_target("attest", ref, home, remote, net) as (repo, parsed, subject, on_registry):
        desc = attest_manifest(
            repo,
            subject,
            private_key,
            predicate_type=type_uri,
            predicate=body,
            docker_reference=parsed.repo_key,
            mode=mode,
        )
    return ReferrerResult(parsed, subject, desc, on_registry)


def verify_attestation(
    ref: str,
    *,
    verify_key: KeySource,
    predicate_type: str | None = None,
    remote: bool = False,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> AttestationResult:
    """The attestations of ``ref`` that the public key ``verify_key`` verifies and whose statement names
    its digest (only those of ``predicate_type``, a name or URI, when given). Raises
    :class:`~kitops.signing.errors.SignatureError` when none does, saying why."""
    from kitops.signing.dsse import resolve_predicate_type
    from kitops.signing.verify import verify_attestations

    check_keywords("verify_attestation", net)
    type_uri = resolve_predicate_type(predicate_type) if predicate_type else None
    public_key = _public_key(verify_key)
    with _signing_target("verify_attestation", ref, home, remote, net) as (repo, parsed, subject, _r):
        found = verify_attestations(repo, subject, public_key, name=parsed.display(), predicate_type=type_uri)
    return AttestationResult(parsed, subject, tuple(found))


def attach(
    ref: str,
    file: str | os.PathLike[str],
    *,
    artifact_type: str,
    media_type: str = "application/octet-stream",
    annotations: Mapping[str, str] | None = None,
    remote: bool = False,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> ReferrerResult:
    """Attach ``file`` (a model card, an SBOM, an eval report) to ``ref`` as a referrer of
    ``artifact_type`` whose one layer is the file (``media_type``, titled with its name), as
    ``oras attach`` does; ``annotations`` go on the referrer. Streamed, never read whole."""
    from kitops.signing.attach import attach_file

    check_keywords("attach", net)
    with _signing_target("attach", ref, home, remote, net) as (repo, parsed, subject, on_registry):
        desc = attach_file(
            repo,
            subject,
            file,
            artifact_type=artifact_type,
            media_type=media_type,
            annotations=_checked_annotations(annotations),
        )
    return ReferrerResult(parsed, subject, desc, on_registry)


def discover(
    ref: str, *, remote: bool = False, home: Home = None, **net: Unpack[NetworkKeywords]
) -> DiscoverResult:
    """Everything that refers to ``ref``, recursively: OCI 1.1 referrers (the registry's API or
    its tag-schema index; local storage's) and cosign's ``.sig``/``.att``/``.sbom`` tags."""
    from kitops.signing.attach import discover as _discover

    check_keywords("discover", net)
    with _signing_target("discover", ref, home, remote, net) as (repo, parsed, subject, _on_registry):
        found = _discover(repo, subject)
    return DiscoverResult(parsed, subject, found)


@contextlib.contextmanager
def _signing_target(
    function: str, ref: str, home: Home, remote: bool, net: NetworkKeywords
) -> Iterator[tuple[ReferrerStore, Reference, Descriptor, bool]]:
    """The repository holding ``ref``, the reference, the manifest it names, and whether that is
    on a registry: local storage when it holds ``ref`` (and ``remote`` is not asked for), else the
    registry the reference names, as :func:`info` decides. Local writes are leased against a
    concurrent ``kit remove``; the registry connections close when the block ends."""
    parsed = parse_single(ref)
    if not remote:
        store = local_store(home)
        repo = store.repository(parsed.repo_key)
        try:
            desc = repo.resolve(parsed.reference)
        except NotFoundError:
            if parsed.registry == DEFAULT_REGISTRY:
                raise NotFoundError(
                    f"model {parsed.display()} not found", hint="run 'kit list' to see what is stored"
                ) from None
            log.info("%s is not in local storage; using %s", parsed.display(), parsed.registry)
        else:
            with store.leased():
                yield repo, parsed, desc, False
            return
    if parsed.registry == DEFAULT_REGISTRY:
        raise UsageError(f"can not check remote: {parsed.display()} does not contain registry")
    with _remotes(home, build_network(function, net)) as remotes:
        remote_repo = remotes.repository(parsed)
        yield remote_repo, parsed, remote_repo.resolve(parsed.reference), True


# ---------------------------------------------------------------------------------------------
# runnable images: kit image build / kit image inspect


@dataclass(frozen=True)
class ImageBuildResult:
    """The image built: where it went (``reference`` on a registry, or ``oci_layout`` a
    directory), its manifest, the base manifest it starts from and the platform, the ModelKit
    layers added (each with the ModelKit entry it came from), and the signature when signed.
    ``converted``: a Docker v2s2 base was written as an OCI image (zstd layers need one)."""

    reference: Reference
    descriptor: Descriptor
    base: Descriptor
    platform: str
    layers: tuple[ImageLayer, ...]
    oci_layout: Path | None = None
    signature: Descriptor | None = None
    converted: bool = False


def build_image(
    ref: str,
    *,
    base: str,
    target: str,
    push: bool | None = None,
    oci_layout: str | os.PathLike[str] | None = None,
    filters: Sequence[str] = (),
    workdir: str = "/",
    entrypoint: str | Sequence[str] | None = None,
    cmd: str | Sequence[str] | None = None,
    env: Mapping[str, str] | Sequence[str] = (),
    labels: Mapping[str, str] | Sequence[str] = (),
    platform: str | None = None,
    signing_key: KeySource | None = None,
    password: Password = None,
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    **net: Unpack[NetworkKeywords],
) -> ImageBuildResult:
    """Build a runnable container image from the ModelKit ``ref`` on top of the image ``base``
    and push it as ``target`` (or, with ``oci_layout``, write it into that OCI layout directory
    under the name ``target``). No container engine is involved.

    ``ref`` is read from local storage when it is there, else from its registry. Each selected
    ModelKit layer (``filters`` as ``kit unpack --filter``) becomes one image layer; with the
    default ``workdir="/"`` a tar layer is the very ModelKit blob (stored once on a registry),
    any other ``workdir`` rewrites it with the prefix (a new blob). ``entrypoint`` and ``cmd``
    are argv lists, or strings (a JSON array, or words split as a shell would); ``env`` and
    ``labels`` are mappings or ``KEY=VALUE`` items. ``platform`` (``os/arch[/variant]``, default
    this machine's) picks the image from a multi-platform base. ``signing_key`` signs the pushed
    image as :func:`sign` signs a ModelKit. ``SOURCE_DATE_EPOCH`` fixes the creation time.
    """
    import tempfile

    from kitops.imagebuild import build as builder
    from kitops.imagebuild.base import Platform
    from kitops.imagebuild.config import RunSettings, check_workdir, created_time
    from kitops.modelkit.unpack import parse_filters
    from kitops.store import ocilayout

    network = build_network("build_image", net)
    if push and oci_layout is not None:
        raise UsageError(
            "--push and --oci-layout cannot be used together", hint="choose where the image goes"
        )
    if oci_layout is not None and signing_key is not None:
        raise UsageError("--sign-key applies to a pushed image", hint="push it, or sign it after loading it")
    target_ref = parse_single(target, what="target reference")
    if oci_layout is None and target_ref.is_local_only:
        raise UsageError(
            "the target must name a registry", hint="e.g. -t registry.example.com/team/model-server:v1"
        )
    if oci_layout is not None and not target_ref.tag:
        raise UsageError("the target must have a tag to name the image in the layout")
    base_ref = parse_single(base, what="base image")
    if base_ref.is_local_only:
        raise UsageError("--base must name a registry", hint="e.g. --base docker.io/library/python:3.12-slim")
    settings = RunSettings(
        workdir=check_workdir(workdir),
        entrypoint=_argv(entrypoint, "--entrypoint"),
        cmd=_argv(cmd, "--cmd"),
        env=_pairs(env, "--env"),
        labels=_pairs(labels, "--label"),
    )
    chosen = Platform.parse(platform) if platform else Platform.host()
    unpack_filters = parse_filters(list(filters))
    private_key = _signing_key(signing_key, password) if signing_key is not None else None
    created = created_time()
    kit_ref = parse_single(ref)
    store = local_store(home)
    scratch_root = cache_dir(kitops_home(home)) / "image-build"
    scratch_root.mkdir(parents=True, exist_ok=True)
    with (
        _remotes(home, network) as remotes,
        store.leased(),
        tempfile.TemporaryDirectory(dir=scratch_root) as scratch,
    ):
        kit_store, kit = _image_source(store, remotes, kit_ref)
        if (
            oci_layout is None
            and isinstance(kit_store, LocalRepository)
            and kit_ref.registry == target_ref.registry
        ):
            _find_on_registry(remotes, kit_ref, kit)
        inputs = builder.BuildInputs(
            kit=kit,
            kit_store=kit_store,
            kit_name=kit_ref.display(),
            base_store=remotes.repository(base_ref),
            base_ref=base_ref.reference,
            base_name=base_ref.display(),
            platform=chosen,
            settings=settings,
            created=created,
            filters=unpack_filters,
        )
        signature = None

        def build_into(dst: Store, tag: str | None) -> builder.BuiltImage:
            return builder.build_image(
                inputs,
                dst,
                Path(scratch),
                tag=tag,
                concurrency=network.concurrency,
                progress=progress,
                cancel=cancel,
            )

        if oci_layout is not None:
            with ocilayout.writing(Path(oci_layout), "oci-dir") as layout:
                built = build_into(layout, target_ref.display())
        else:
            dst = remotes.repository(target_ref)
            built = build_into(dst, target_ref.tag)
            if private_key is not None:
                from kitops.signing.storage import sign_manifest

                signature = sign_manifest(
                    dst, built.descriptor, private_key, docker_reference=target_ref.repo_key
                )
    return ImageBuildResult(
        target_ref,
        built.descriptor,
        built.base.descriptor,
        str(built.base.platform or chosen),
        built.layers,
        Path(oci_layout) if oci_layout is not None else None,
        signature,
        built.converted,
    )


def _image_source(store: LocalStore, remotes: Remotes, ref: Reference) -> tuple[ReadableStore, ModelKit]:
    """Where an image build reads the ModelKit: local storage when it holds it, else its registry."""
    repo = store.repository(ref.repo_key)
    try:
        return repo, load_modelkit_at(repo, repo.resolve(ref.reference))
    except NotFoundError:
        if ref.is_local_only:
            raise NotFoundError(
                f"model {ref.display()} not found", hint="run 'kit list' to see what is stored"
            ) from None
    remote = remotes.repository(ref)
    try:
        desc = remote.resolve(ref.reference)
    except NotFoundError:
        raise NotFoundError(
            f"model {ref.display()} not found (neither in local storage nor on {ref.registry})"
        ) from None
    return remote, load_modelkit_at(remote, desc)


def _find_on_registry(remotes: Remotes, ref: Reference, kit: ModelKit) -> None:
    """Ask the ModelKit's own repository for its layers (one HEAD each) when the image goes to
    the same registry: those found there are then mounted into the image's repository, not
    uploaded again, even when the ModelKit was read from local storage."""
    repo = remotes.repository(ref)
    for layer in kit.manifest.layers:
        try:
            repo.exists(layer)  # a blob found is remembered where the upload looks for mounts
        except KitError as exc:
            log.debug("cannot look for %s in %s: %s", layer.digest, ref.repo_key, exc)
            return


def _argv(value: str | Sequence[str] | None, what: str) -> tuple[str, ...] | None:
    from kitops.imagebuild.config import parse_command

    if value is None:
        return None
    return parse_command(value, what) if isinstance(value, str) else tuple(value)


def _pairs(value: Mapping[str, str] | Sequence[str], what: str) -> tuple[tuple[str, str], ...]:
    from kitops.imagebuild.config import parse_pairs

    if isinstance(value, Mapping):
        return parse_pairs([f"{k}={v}" for k, v in value.items()], what)
    return parse_pairs(list(value), what)


def inspect_image(
    image: str,
    *,
    platform: str | None = None,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> ImageSummary:
    """What the image ``image`` is made of: base layers and the ModelKit layers ``kit image
    build`` added, each with the ModelKit entry it came from. ``image`` is a registry reference,
    or an OCI layout directory (``DIR``, or ``DIR:TAG`` for one of several images in it)."""
    from kitops.imagebuild.base import Platform
    from kitops.imagebuild.inspect import summarize
    from kitops.store import ocilayout

    network = build_network("inspect_image", net)
    chosen = Platform.parse(platform) if platform else Platform.host()
    layout = _layout_name(image)
    if layout is not None:
        directory, name = layout
        source = ocilayout.OciLayoutDir.open(directory)
        if name is None:
            entries = source.index.entries
            if len(entries) != 1:
                raise UsageError(
                    f"{directory} holds {len(entries)} images", hint=f"name one: {directory}:TAG"
                )
            name = entries[0].digest
        return summarize(source, name, chosen, name=image)
    parsed = parse_single(image, what="image")
    if parsed.is_local_only:
        raise UsageError(f"{image} is neither a registry reference nor an OCI layout directory")
    with _remotes(home, network) as remotes:
        return summarize(remotes.repository(parsed), parsed.reference, chosen, name=parsed.display())


def _layout_name(text: str) -> tuple[Path, str | None] | None:
    """``DIR`` or ``DIR:NAME`` when DIR is an OCI layout directory; None for anything else."""
    if Path(text, "oci-layout").is_file():
        return Path(text), None
    directory, sep, name = text.rpartition(":")
    if sep and directory and Path(directory, "oci-layout").is_file():
        return Path(directory), name
    return None


def _check_mode(mode: str, modes: Sequence[str]) -> None:
    if mode not in modes:
        raise UsageError(f"unknown storage mode {mode!r}", hint=f"use one of: {', '.join(modes)}")


def _checked_annotations(annotations: Mapping[str, str] | None) -> dict[str, str] | None:
    if not annotations:
        return None
    for name, value in annotations.items():
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise UsageError(f"invalid annotation {name!r}: keys must be non-empty strings, values strings")
    return dict(annotations)


def _secret(password: bytes | str) -> bytes:
    return password.encode("utf-8") if isinstance(password, str) else password


def _small_file(path: str | os.PathLike[str], what: str, limit: int) -> bytes:
    """A small file read whole (a key, a predicate), refusing what is not a regular file or too big."""
    source = Path(path)
    if not source.is_file():
        raise NotFoundError(f"{what} file {source} " + ("is not a file" if source.exists() else "not found"))
    with open(source, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise UsageError(f"{what} file {source} is larger than {limit} bytes")
    return data


def _key_bytes(key: KeySource, what: str) -> bytes:
    return key if isinstance(key, bytes) else _small_file(key, what, MAX_KEY_FILE)


def _signing_key(key: KeySource, password: Password) -> SigningKey:
    """Load a private key, asking for the password (calling ``password``) only if it is encrypted."""
    from kitops.signing.keys import key_needs_password, load_private_key

    pem = _key_bytes(key, "key")
    secret: bytes | None = None
    if key_needs_password(pem):
        given = password() if callable(password) else password
        secret = None if given is None else _secret(given)
    return load_private_key(pem, secret)


def _public_key(key: KeySource) -> VerifyKey:
    from kitops.signing.keys import load_public_key

    return load_public_key(_key_bytes(key, "key"))


def _verify_before_use(repo: ReferrerStore, subject: Descriptor, ref: Reference, key: VerifyKey) -> None:
    """Refuse ``subject`` unless ``key`` verifies a signature of it: called before any layer of a
    ModelKit is read, so an unsigned or wrongly signed one writes nothing."""
    from kitops.signing.verify import verify_signatures

    found = verify_signatures(repo, subject, key, name=ref.display(), docker_reference=ref.repo_key)
    log.info("Verified %d signature(s) of %s (%s)", len(found), ref.display(), subject.digest)
