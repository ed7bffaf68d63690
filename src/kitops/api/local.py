"""The local store: ``list``, ``inspect``, ``info``, ``tag``, ``remove``, ``diff`` and the cache."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kitops.api._common import (
    Home,
    _listed_modelkit,
    _referrer_check,
    _remotes,
    _resolve_local,
    local_store,
    log,
)
from kitops.api.remote import remote_modelkit
from kitops.errors import KitError, NotFoundError, UsageError
from kitops.kitfile.model import Kitfile
from kitops.modelkit.listing import NONE, ModelKitSummary, repo_display
from kitops.modelkit.read import ModelKit
from kitops.netopts import NetworkKeywords, build_network, check_keywords
from kitops.oci import gojson
from kitops.oci.models import Descriptor, Manifest
from kitops.oci.reference import DEFAULT_REGISTRY, Reference, parse_reference, parse_single
from kitops.settings import cache_dir, kitops_home, storage_dir
from kitops.store.layout import LocalRepository, LocalStore

if TYPE_CHECKING:  # types only: httpx, the registry client and the pack/unpack code load when a command runs
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; only type checkers read it

    from kitops.modelkit.diff import ModelKitDiff


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
