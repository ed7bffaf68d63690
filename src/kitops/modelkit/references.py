"""ModelKit references in ``model.path``: resolution chains, merging, limits (spec §1.6)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

from kitops.errors import KitfileError, NotFoundError
from kitops.kitfile.model import Kitfile
from kitops.oci.reference import DEFAULT_REGISTRY, Reference, is_modelkit_reference, parse_single
from kitops.store.layout import LocalStore

MAX_REFERENCE_DEPTH = 10


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
    """Child scalars win; ``model.path`` comes from the parent; lists concatenate child first."""
    out = copy.deepcopy(child)
    for key in ("name", "version", "description", "license"):
        if not getattr(out.package, key):
            setattr(out.package, key, getattr(parent.package, key))
    out.package.authors = [*child.package.authors, *parent.package.authors]
    if parent.model is not None:
        if out.model is None:
            out.model = copy.deepcopy(parent.model)
        else:
            for key in ("name", "license", "framework", "format", "version", "description"):
                if not getattr(out.model, key):
                    setattr(out.model, key, getattr(parent.model, key))
            out.model.path = parent.model.path
            out.model.parts = [*out.model.parts, *copy.deepcopy(parent.model.parts)]
    out.code = [*out.code, *copy.deepcopy(parent.code)]
    out.datasets = [*out.datasets, *copy.deepcopy(parent.datasets)]
    out.docs = [*out.docs, *copy.deepcopy(parent.docs)]
    out.prompts = [*out.prompts, *copy.deepcopy(parent.prompts)]
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
