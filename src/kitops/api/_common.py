"""What every part of the API shares: the store of a home, the network of a call, and the helpers
more than one group of commands needs (resolving a local reference, pushing stored parents,
listing a manifest, checking annotations)."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from kitops.errors import FormatError, IntegrityError, NotFoundError, UsageError
from kitops.kitfile.model import Kitfile
from kitops.modelkit.read import ModelKit, load_modelkit, load_modelkit_at
from kitops.netopts import NetworkFlags, build_network
from kitops.oci.models import Descriptor
from kitops.oci.reference import DEFAULT_REGISTRY, Reference, parse_single
from kitops.progress import Cancel, Progress
from kitops.settings import kitops_home, storage_dir
from kitops.store.layout import LocalStore

if TYPE_CHECKING:  # types only: httpx, the registry client and the pack/unpack code load when a command runs
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; only type checkers read it

    from kitops.registry.remote import NetworkOptions, Remotes
    from kitops.store.base import ReadableStore

log = logging.getLogger("kitops.api")  # one logger for the whole API, whichever module logs

Home = str | os.PathLike[str] | None
KITFILE_NAMES = ("Kitfile", "kitfile", ".kitfile")


def local_store(home: Home = None) -> LocalStore:
    return LocalStore(storage_dir(kitops_home(home)))


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


def _resolve_local(ref_text: str, home: Home) -> tuple[LocalStore, Reference, ModelKit]:
    ref = parse_single(ref_text)
    store = local_store(home)
    kit = load_modelkit(store.repository(ref.repo_key), ref.reference, display=ref.display())
    return store, ref, kit


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
