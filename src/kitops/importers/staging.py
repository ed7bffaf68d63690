"""What an importer hands to :func:`kitops.api.import_hf`: a staged directory and its Kitfile.

:func:`stage_import` parses the source, picks the tool (``hf`` for Hub repositories, ``git``
otherwise) and yields a :class:`StagedImport` whose directory stays valid until the ``with`` block
ends. The importers fetch and verify; they never pack (packing is the API's), so the same staging
serves ``kit import``, ``kitops.api.import_hf`` and PyKitOps' ``kit.import_from_hf``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kitops.importers.cards import check_concurrency, given_kitfile
from kitops.importers.hfsource import choose_tool, default_tag, parse_source
from kitops.kitfile.model import Kitfile
from kitops.oci.reference import parse_single
from kitops.settings import cache_dir, kitops_home

if TYPE_CHECKING:
    from kitops.progress import Cancel, Progress

log = logging.getLogger(__name__)

Home = str | os.PathLike[str] | None
ANNOTATION_SOURCE = "ml.kitops.import.source"
ANNOTATION_REVISION = "ml.kitops.import.revision"


@dataclass(frozen=True)
class ImportedModelKit:
    """What ``kit import`` made from a Hub repository or a git URL."""

    ref: str  # the reference it is stored under
    digest: str  # manifest digest
    kitfile: Kitfile
    source: str  # the repository's URL
    revision: str  # the commit imported
    files: list[str] = field(default_factory=list)  # the repository files packed


@dataclass
class StagedImport:
    """A fetched, verified repository, ready to pack."""

    tree: Path  # the directory to pack
    kitfile: Kitfile
    generated: bool  # the Kitfile was generated (not given, not the repository's own)
    tag: str
    source: str  # the repository's URL
    revision: str
    files: list[str]
    kitfile_path: Path  # where an editable copy of the Kitfile goes (outside the packed tree)
    annotations: dict[str, str] = field(default_factory=dict)


def staging_root(home: Home) -> Path:
    return cache_dir(kitops_home(home)) / "import"


@contextlib.contextmanager
def stage_import(
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
) -> Iterator[StagedImport]:
    """Fetch ``source`` (see :func:`kitops.api.import_hf` for the arguments) and yield it staged.

    After a normal exit the staged files go. A failed Hugging Face import keeps its verified
    downloads (the next run resumes), and a failed import keeps ``kitfile_path`` (the Kitfile the
    user may resume from with ``-f``)."""
    src = parse_source(source, repo_type=repo_type)
    chosen = choose_tool(src, tool)
    check_concurrency(concurrency)
    if tag is None:
        tag = default_tag(src)
        log.info("Using tag %s. Use flag --tag to override", tag)
    parse_single(tag, what="tag")
    given = given_kitfile(kitfile, kitfile_text)
    if chosen == "git":
        from kitops.importers.gitimport import stage_git

        staged = stage_git(
            src, tag=tag, ref=ref or src.revision, token=token, kitfile=given,
            include=include, exclude=exclude, root=staging_root(home), cancel=cancel,
        )  # fmt: skip
    else:
        from kitops.importers.huggingface import stage_hf

        staged = stage_hf(
            src, tag=tag, ref=ref, token=token, kitfile=given, include=include, exclude=exclude,
            concurrency=concurrency, root=staging_root(home), progress=progress, cancel=cancel,
        )  # fmt: skip
    with staged as ready:
        yield ready
        # only after a normal exit: a failed run keeps the Kitfile the user may resume from
        ready.kitfile_path.unlink(missing_ok=True)
