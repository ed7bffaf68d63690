"""The public Python API of kitops: one function per ``kit`` command.

The CLI is a thin layer over exactly these functions. Options are keyword-only and
named as the CLI flags are (``compression``, ``filters``, ``overwrite``...). Every
function takes ``home`` (the ``$KITOPS_HOME`` to use; default: resolved like the
Go CLI) and raises :mod:`kitops.errors` types; none prints, prompts or chdirs. Every function
that talks to a registry takes the same network keywords (:class:`kitops.netopts.NetworkKeywords`:
``plain_http``, ``tls_verify``, ``concurrency``, ..., ``network``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kitops.errors import FormatError, IntegrityError, KitError, NotFoundError, UsageError
from kitops.kitfile.model import Kitfile
from kitops.modelkit.diff import ModelKitDiff
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
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; only type checkers read it

    from kitops.modelkit.pack import PackResult
    from kitops.modelkit.unpack import UnpackFilter, UnpackResult
    from kitops.registry.remote import NetworkOptions, Remotes
    from kitops.store.base import ReadableStore

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
) -> PackResult:
    """Pack ``context_dir`` into a ModelKit in the local store.

    ``kitfile`` is a path (relative paths resolve against the current directory,
    not the context, where the reference resolved them) or a :class:`Kitfile`; default: the
    context's ``Kitfile``. ``tag`` is ``repo:tag[,tag2...]`` or a list of refs.
    ``annotations`` are extra manifest annotations (e.g. provenance of an import).
    """
    from kitops.modelkit.pack import pack as _pack
    from kitops.modelkit.packcache import PackCache

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
    with store.leased():  # blobs found or written stay until the manifest is indexed, whatever runs beside
        return _pack(
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
    **net: Unpack[NetworkKeywords],
) -> UnpackResult:
    """Unpack a ModelKit into ``target_dir`` (parents first, filtered).

    From local storage when it is there; otherwise straight from its registry,
    fetching only the selected layers and verifying each before files get their names.
    The network keywords matter only for that remote case.
    """
    from kitops.modelkit.unpack import UnpackFilter, check_filters, filters_for_parent, unpack_modelkit

    check_keywords("unpack", net)
    parsed = [f if isinstance(f, UnpackFilter) else UnpackFilter.parse(f) for f in filters]
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
        )
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
) -> UnpackResult:
    from kitops.modelkit.references import walk_parents
    from kitops.modelkit.unpack import check_filters, filters_for_parent, unpack_modelkit

    with _remotes(home, network) as remotes:
        repo = remotes.repository(ref)
        kit = load_modelkit_at(repo, repo.resolve(ref.reference))
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
            kit = _listed_modelkit(repo, desc, key)
            if kit is None:
                continue
            tags = sorted(t for t, d in tag_map.items() if d.digest == desc.digest)
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


def _listed_modelkit(repo: ReadableStore, desc: Descriptor, where: str) -> ModelKit | None:
    """The ModelKit ``desc`` names, for a listing; None for a manifest that is not one.

    A repository may hold other artifacts (an index, a signature, a referrers tag), and a
    manifest whose config is missing or damaged must not hide the rest of the list: those are
    passed over, the damaged ones with a warning. Anything else (a lost connection, refused
    credentials, an unreadable store) is no property of the entry and is raised.
    """
    try:
        return load_modelkit_at(repo, desc)
    except FormatError as exc:
        log.debug("%s@%s is not listed: %s", where, desc.digest, exc.message)
    except (NotFoundError, IntegrityError) as exc:
        log.warning("%s@%s is not listed: %s", where, desc.digest, exc.message)
    return None


@dataclass(frozen=True)
class InspectResult:
    digest: str
    cli_version: str
    kitfile: Kitfile
    manifest: Manifest

    def to_go(self) -> dict[str, object]:
        return {
            "digest": self.digest,
            "cliVersion": self.cli_version,
            "kitfile": self.kitfile.to_config_dict(),
            "manifest": self.manifest.to_go(),
        }

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
    return InspectResult(kit.descriptor.digest, version, kit.kitfile, kit.manifest)


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
    **net: Unpack[NetworkKeywords],
) -> tuple[Reference, Reference]:
    """Tag ``source`` as ``target``.

    In local storage when ``source`` is there (the reference's behaviour). Otherwise — or
    with ``remote=True`` — on the registries, which is how dev→prod promotion works without
    a download: within one repository only the manifest is PUT under the new tag; to another
    repository of the same registry blobs are mounted; to another registry they are streamed
    through the copy engine, verified, and never stored locally (``upload_mode`` and
    ``chunk_size`` apply to that case).
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
            store.repository(dst.repo_key).tag(desc, dst.tag or "latest")
            return src, dst
    if src.registry == DEFAULT_REGISTRY or dst.registry == DEFAULT_REGISTRY:
        raise UsageError(
            "tagging on a registry needs both references to name one",
            hint="kit tag registry.example.com/team/model:dev registry.example.com/team/model:prod",
        )
    from kitops import transfer

    with _remotes(home, build_network("tag", net)) as remotes:
        transfer.copy(
            remotes.repository(src),
            src.reference,
            remotes.repository(dst),
            dst_ref=dst.tag or "latest",
            concurrency=remotes.options.concurrency,
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
    repo.delete(desc)
    return Removal(ref.repo_key, ref.display(), desc.digest, False)


def _remove_all(store: LocalStore, force: bool) -> list[Removal]:
    out = []
    for key in store.repo_keys():
        repo = store.repository(key)
        tag_map = repo.tag_map()
        for desc in repo.manifests():
            tags = [t for t, d in tag_map.items() if d.digest == desc.digest]
            if tags and not force:
                continue
            repo.delete(desc)
            out.append(Removal(key, f"{repo_display(key)}@{desc.digest}", desc.digest, False))
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
    **net: Unpack[NetworkKeywords],
) -> TransferResult:
    """Copy a ModelKit (and the ModelKits its model.path references) from local storage to a registry.

    ``upload_mode`` is ``auto``, ``monolithic`` or ``chunked``; ``chunk_size`` is in bytes
    (the CLI's ``--chunk-size`` is in MiB).
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
    parents = _stored_parents(store, kit, src_ref)
    with _remotes(home, network) as remotes:
        for pref in reversed(
            parents
        ):  # farthest first: a registry then never holds a child without its parent
            # a parent named without a registry goes to the destination's
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
            )
        desc = transfer.copy(
            src_repo,
            src_ref.reference,
            remotes.repository(dst_ref),
            dst_ref=dst_ref.tag,
            concurrency=remotes.options.concurrency,
            progress=progress,
            cancel=cancel,
        )
    return TransferResult(dst_ref, desc)


def _stored_parents(store: LocalStore, kit: ModelKit, ref: Reference) -> list[Reference]:
    """The references of ``kit``'s ancestors that are in local storage, nearest first; the chain
    ends at the first one that is not (it lives only on a registry: nothing local to push)."""
    from kitops.modelkit.references import walk_parents

    def load(pref: Reference) -> tuple[Kitfile, Reference] | None:
        try:
            parent = load_modelkit(store.repository(pref.repo_key), pref.reference)
        except NotFoundError:
            return None
        return parent.kitfile, pref

    return [pref for _path, pref in walk_parents(kit.kitfile, ref.display(), load)]


def pull(
    ref: str,
    *,
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    **net: Unpack[NetworkKeywords],
) -> TransferResult:
    """Copy a ModelKit from a registry into local storage (verified, resumable), then its parents
    (each into its own repository, not the child's)."""
    from kitops import transfer
    from kitops.modelkit.references import MAX_REFERENCE_DEPTH, walk_parents

    network = build_network("pull", net)
    parsed = parse_single(ref)
    if parsed.registry == "localhost":
        raise UsageError(
            "registry is required when pulling", hint="e.g. kit pull registry.example.com/team/model:v1"
        )
    store = local_store(home)
    with _remotes(home, network) as remotes, store.leased():

        def fetch(current: Reference) -> tuple[Kitfile, Descriptor]:
            remote = remotes.repository(current)
            local = store.repository(current.repo_key)
            # manifest and config are checked before anything is stored: a failed pull leaves no tag
            root = remote.resolve(current.reference)
            kit = load_modelkit_at(remote, root)
            if kit.manifest.format != "kit":
                raise FormatError(f"reference {current} does not refer to a model")
            desc = transfer.copy(
                remote,
                root.digest,
                local,
                concurrency=remotes.options.concurrency,
                progress=progress,
                cancel=cancel,
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
