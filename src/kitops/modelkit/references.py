"""ModelKit references in ``model.path``: resolution chains, merging, limits."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from kitops.errors import KitfileError, NotFoundError
from kitops.kitfile.model import Kitfile
from kitops.oci.reference import DEFAULT_REGISTRY, Reference, is_modelkit_reference, parse_single
from kitops.store.layout import LocalStore

MAX_REFERENCE_DEPTH = 10
_T = TypeVar("_T")


def parent_reference(
    kitfile: Kitfile, chain: Sequence[str], *, registry: str | None = None, limit: int = MAX_REFERENCE_DEPTH
) -> tuple[str, Reference] | None:
    """The ModelKit a Kitfile's ``model.path`` names, as (path as written, reference); None if it names none.

    ``chain`` holds the root's display form and the paths followed so far: a path
    already in it is a cycle; more than ``limit`` entries is too deep. A parent without
    a registry lives on ``registry`` (the child's) when one is given.
    """
    path = kitfile.model.path if kitfile.model else ""
    if not path or not is_modelkit_reference(path):
        return None
    if path in chain:
        raise KitfileError(f"found cycle in modelkit references: [{'=>'.join([*chain, path])}]")
    if len(chain) > limit:
        raise KitfileError(f"reached maximum number of model references: [{'=>'.join(chain)}]")
    ref = parse_single(path)
    if registry and ref.registry == DEFAULT_REGISTRY:
        ref = dataclasses.replace(ref, registry=registry)
    return path, ref


def read_local_kitfile(store: LocalStore, ref_text: str) -> Kitfile:
    """The Kitfile of a ModelKit in the local store, found by reference."""
    from kitops.modelkit.read import load_modelkit

    ref = parse_single(ref_text)
    return load_modelkit(store.repository(ref.repo_key), ref.reference, display=ref.display()).kitfile


def merge_kitfiles(child: Kitfile, parent: Kitfile) -> Kitfile:
    """Every declared Kitfile field merged: the first non-empty string wins, child first, except
    ``model.path``, the parent's (where the reference leads); lists concatenate, child first; a
    section only one side has is copied; ``parameters`` stay the child's."""
    from kitops.kitfile.fields import Kind, kitfile_fields

    def merged(mine: object, theirs: object) -> object:
        out = copy.deepcopy(mine)
        for spec in kitfile_fields(type(mine)):
            a, b = getattr(mine, spec.attr), getattr(theirs, spec.attr)
            if spec.kind is Kind.TEXT:
                setattr(out, spec.attr, a or b)
            elif spec.kind is Kind.TEXTS or spec.kind is Kind.ENTRIES:
                setattr(out, spec.attr, [*copy.deepcopy(a), *copy.deepcopy(b)])
            elif spec.kind is Kind.SECTION and b is not None:
                setattr(out, spec.attr, copy.deepcopy(b) if a is None else merged(a, b))
        return out

    out = merged(child, parent)
    assert isinstance(out, Kitfile)
    if out.model is not None and parent.model is not None:
        out.model.path = parent.model.path
    return out


def resolve_parent_kitfile(store: LocalStore, ref_text: str, base_ref: str) -> Kitfile:
    """Follow ``model.path`` references from ``ref_text`` until a Kitfile with a real model path.

    Returns the merged ancestors' Kitfile. Cycles and chains longer than 10 fail.
    """
    chain = [base_ref, ref_text]
    merged: Kitfile | None = None
    current = ref_text
    for _ in range(MAX_REFERENCE_DEPTH):
        try:
            kf = read_local_kitfile(store, current)
        except NotFoundError:
            raise KitfileError(
                f"Failed to resolve referenced modelkit {ref_text}: {current} not found in local storage",
                hint=f"pull it first: kit pull {current}",
            ) from None
        merged = kf if merged is None else merge_kitfiles(merged, kf)
        path = merged.model.path if merged.model else ""
        if not path or not is_modelkit_reference(path):
            return merged
        if path in chain:
            start = chain.index(path)
            raise KitfileError(f"Found cycle in modelkit references: [{'=>'.join(chain[start:])}=>{path}]")
        chain.append(path)
        current = path
    raise KitfileError(f"reached maximum number of model references: [{'=>'.join(chain)}]")


def walk_parents(
    kitfile: Kitfile,
    root: str,
    load: Callable[[Reference], tuple[Kitfile, _T] | None],
    *,
    registry: str | None = None,
    limit: int = MAX_REFERENCE_DEPTH,
) -> Iterator[tuple[str, _T]]:
    """The ancestors ``kitfile``'s ``model.path`` leads to, nearest first, as (path as written, loaded).

    ``load`` reads the ModelKit a reference names and returns its Kitfile (to go on from) with
    whatever the caller keeps of it, or None to end the walk there. ``root`` is the display form
    of the ModelKit the walk starts from; it heads the chain that :func:`parent_reference` checks
    for cycles and depth (``registry`` and ``limit`` are passed to it), so the errors are its.
    Each parent is loaded only when the caller asks for the next one: a caller that stores each
    as it comes (pull) does so in order, one that makes a list first (push, unpack) has read the
    whole chain, and met any broken link, before it writes anything.
    """
    chain = [root]
    while (found := parent_reference(kitfile, chain, registry=registry, limit=limit)) is not None:
        path, ref = found
        chain.append(path)
        loaded = load(ref)
        if loaded is None:
            return
        kitfile, kept = loaded
        yield path, kept
