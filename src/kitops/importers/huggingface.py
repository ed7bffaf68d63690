"""Hugging Face Hub -> a staged directory: what ``kit import org/name`` fetches.

Built on ``huggingface_hub`` (:mod:`kitops.importers.hfhub`): its endpoint (``$HF_ENDPOINT``),
its token conventions (``token``, else ``$HF_TOKEN`` or the saved login), its cache, its paginated
tree listing, its metadata ``HEAD`` and its ranged ``GET``. The revision is resolved to a commit
and every request pinned to it; every listed path is checked before anything is written
(:mod:`kitops.importers.hfsource`) and every file verified (LFS sha256, else git blob id).
The staging directory ``$KITOPS_HOME/cache/import/hf/<repo>--<commit>`` survives a failed run, so
the next one resumes, and goes once the block using it ends normally.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kitops.errors import NotFoundError, UsageError
from kitops.fsutil import locked
from kitops.importers.cards import build_kitfile, card_metadata, layer_paths
from kitops.importers.hfhub import Hub, download_all, list_files, resolve_commit
from kitops.importers.hfsource import ImportSource, hub_endpoint, select, under_layers
from kitops.importers.staging import ANNOTATION_REVISION, ANNOTATION_SOURCE, StagedImport
from kitops.kitfile.model import Kitfile

if TYPE_CHECKING:
    from kitops.progress import Cancel, Progress


@contextlib.contextmanager
def _stage_dir(base: Path, src: ImportSource, commit: str) -> Iterator[Path]:
    """The import's directory, kept across failed runs (for resuming) and removed after a normal
    exit; one import of a repository commit at a time."""
    base.mkdir(parents=True, exist_ok=True)
    name = f"{src.repo_type}s--{src.repo_id.replace('/', '--')}--{commit}"
    stage = base / name
    with locked(base / f"{name}.lock", blocking=False) as mine:
        if not mine:
            raise UsageError(
                f"another kit import of {src.hub_path}@{commit[:12]} is running",
                hint="wait for it to finish",
            )
        stage.mkdir(exist_ok=True)
        yield stage
        shutil.rmtree(stage, ignore_errors=True)
    (base / f"{name}.lock").unlink(missing_ok=True)


@contextlib.contextmanager
def stage_hf(
    src: ImportSource,
    *,
    tag: str,
    ref: str | None,
    token: str | None,
    kitfile: Kitfile | None,
    include: Sequence[str],
    exclude: Sequence[str],
    concurrency: int,
    root: Path,
    progress: Progress | None,
    cancel: Cancel | None,
) -> Iterator[StagedImport]:
    """The Hub repository ``src`` at ``ref`` (default ``main``), downloaded, verified and staged;
    with ``kitfile``, only the files under its layer paths."""
    hub = Hub(src, hub_endpoint(), token)
    hub.commit = resolve_commit(hub, ref or src.revision or "main")
    listed = select(list_files(hub), include, exclude)
    wanted = under_layers(listed, layer_paths(kitfile)) if kitfile is not None else listed
    if not wanted:
        raise NotFoundError(
            f"{src.hub_path}@{hub.commit[:12]}: no file to import",
            hint="check --include/--exclude and the Kitfile's paths",
        )
    base = root / "hf"
    with _stage_dir(base, src, hub.commit) as stage:
        tree = download_all(hub, wanted, stage, concurrency=concurrency, progress=progress, cancel=cancel)
        kf = kitfile or build_kitfile(tree, src, hub.commit, card_metadata(tree / "README.md"))
        yield StagedImport(
            tree=tree,
            kitfile=kf,
            generated=kitfile is None,
            tag=tag,
            source=src.url,
            revision=hub.commit,
            files=[f.path for f in wanted],
            kitfile_path=base / f"{stage.name}.Kitfile",
            annotations={ANNOTATION_SOURCE: src.url, ANNOTATION_REVISION: hub.commit},
        )
