"""Hugging Face Hub -> ModelKit: ``kit import org/name`` (and ``hf://``, ``https://huggingface.co/…``).

Built on ``huggingface_hub`` (:mod:`kitops.integrations.hfhub`): its endpoint (``$HF_ENDPOINT``),
its token conventions (``--token``, else ``$HF_TOKEN`` or the saved login), its paginated tree
listing, its metadata ``HEAD`` and its ranged ``GET``. The revision is resolved to a commit and
every request pinned to it; every listed path is checked before anything is written
(:mod:`kitops.integrations.hfsource`) and every file verified (LFS sha256, else git blob id);
interrupted downloads resume; verified files are hard-linked into the packed tree (no extra
copy), and the staging directory under ``$KITOPS_HOME/cache/import/hf`` goes after the pack.
Other git hosts (or ``tool="git"``) go through :mod:`kitops.integrations.gitimport`.

The Kitfile is ``kit init``'s for the downloaded tree, with ``package.name`` = the repository's
name and ``authors`` = its owner, the model card's ``license`` (README front matter) on the model
(else the package) and the card's ``base_model`` with the repository and commit under
``model.parameters.huggingface``; or the one given with ``kitfile``, in which case only the files
under its layer paths are downloaded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from kitops import api
from kitops.errors import NotFoundError, UsageError
from kitops.fsutil import locked
from kitops.integrations.hfhub import INSTALL_HINT, Hub, download_all, list_files, resolve_commit
from kitops.integrations.hfsource import (
    ImportSource,
    choose_tool,
    default_tag,
    hub_endpoint,
    parse_source,
    select,
    under_layers,
)
from kitops.kitfile.generate import generate_kitfile
from kitops.kitfile.model import Kitfile
from kitops.oci.reference import parse_single
from kitops.settings import cache_dir, kitops_home

if TYPE_CHECKING:
    from kitops.progress import Cancel, Progress

log = logging.getLogger(__name__)

Home = str | os.PathLike[str] | None
ANNOTATION_SOURCE = "ml.kitops.import.source"
ANNOTATION_REVISION = "ml.kitops.import.revision"
__all__ = ["INSTALL_HINT", "ImportedModelKit", "build_kitfile", "card_metadata", "import_hf"]


@dataclass(frozen=True)
class ImportedModelKit:
    """What ``kit import`` made from a Hub repository or a git URL."""

    ref: str  # the reference it is stored under
    digest: str  # manifest digest
    kitfile: Kitfile
    source: str  # the repository's URL
    revision: str  # the commit imported
    files: list[str] = field(default_factory=list)  # the repository files packed


# ---------------------------------------------------------------------------------------------
# Kitfile


def card_metadata(readme: Path) -> dict[str, Any]:
    """The YAML front matter of a model card (``README.md``), or {} when it has none or is not YAML."""
    try:
        with open(readme, encoding="utf-8", errors="replace") as fh:
            text = fh.read(1 << 20)
    except OSError:
        return {}
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
        meta = yaml.safe_load("\n".join(lines[1:end]))
    except (StopIteration, yaml.YAMLError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value if isinstance(v, str | int | float))
    return str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def build_kitfile(tree: Path, src: ImportSource, revision: str, card: dict[str, Any]) -> Kitfile:
    """``kit init``'s Kitfile for ``tree``, named after the repository, with the card's licence and
    base model."""
    owner, _, name = src.repo_id.partition("/")
    if not src.repo_id:  # a git URL: its last two path segments
        segments = [s for s in urlsplit(src.url).path.strip("/").split("/") if s] or ["model"]
        name = segments[-1].removesuffix(".git")
        owner = segments[-2] if len(segments) > 1 else ""
    kf = generate_kitfile(tree, name=name, author=owner)
    license_id = _text(card.get("license"))
    if license_id:
        if kf.model is not None and not kf.model.license:
            kf.model.license = license_id
        elif not kf.package.license:
            kf.package.license = license_id
    if kf.model is not None:
        facts = {"repository": src.url, "revision": revision}
        base = _text(card.get("base_model"))
        if base:
            facts["base_model"] = base
        kf.model.parameters = {"huggingface": facts}
        kf.model.has_parameters = True
    return kf


def _given_kitfile(
    kitfile: str | os.PathLike[str] | Kitfile | None, kitfile_text: str | None
) -> Kitfile | None:
    if isinstance(kitfile, Kitfile):
        return kitfile
    if kitfile_text is not None:
        return api.load_kitfile(text=kitfile_text)
    if kitfile is not None:
        return api.load_kitfile(kitfile)
    return None


def layer_paths(kf: Kitfile) -> list[str]:
    """The paths a Kitfile packs; "." when its model has no path (the whole directory)."""
    paths = kf.layer_paths()
    if kf.model is not None and not kf.model.path:
        paths.append(".")
    return paths


# ---------------------------------------------------------------------------------------------
# staging


def staging_root(home: Home) -> Path:
    return cache_dir(kitops_home(home)) / "import"


@contextlib.contextmanager
def _stage(home: Home, src: ImportSource, commit: str) -> Iterator[Path]:
    """The import's directory, kept across failed runs (for resuming) and removed after a pack;
    one import of a repository commit at a time."""
    base = staging_root(home) / "hf"
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


# ---------------------------------------------------------------------------------------------
# public API


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
) -> ImportedModelKit:
    """``kit import``: pack a Hugging Face repository (or, with ``tool="git"`` or a non-Hub URL, any
    git repository) into local storage as ``tag`` (default: ``org/name:latest``).

    ``ref`` is a branch, tag or commit (default ``main``, or the ``/tree/<rev>`` of a browser URL);
    ``token`` defaults to huggingface_hub's (``$HF_TOKEN`` or the saved login). ``include`` /
    ``exclude`` are globs on repository paths (``*.safetensors``, ``*Q4_K_M.gguf``, ``onnx/``).
    ``kitfile`` (a path or a :class:`Kitfile`) or ``kitfile_text`` replaces the generated Kitfile.
    """
    src = parse_source(source, repo_type=repo_type)
    chosen = choose_tool(src, tool)
    if concurrency < 1:
        raise UsageError(f"invalid concurrency {concurrency}", hint="use 1 or more")
    if tag is None:
        tag = default_tag(src)
        log.info("Using tag %s. Use flag --tag to override", tag)
    parse_single(tag, what="tag")
    given = _given_kitfile(kitfile, kitfile_text)
    if chosen == "git":
        from kitops.integrations.gitimport import import_git

        return import_git(
            src,
            tag=tag,
            ref=ref or src.revision,
            token=token,
            kitfile=given,
            include=include,
            exclude=exclude,
            home=home,
            progress=progress,
            cancel=cancel,
        )
    hub = Hub(src, hub_endpoint(), token)
    hub.commit = resolve_commit(hub, ref or src.revision or "main")
    listed = select(list_files(hub), include, exclude)
    wanted = under_layers(listed, layer_paths(given)) if given is not None else listed
    if not wanted:
        raise NotFoundError(
            f"{src.hub_path}@{hub.commit[:12]}: no file to import",
            hint="check --include/--exclude and the Kitfile's paths",
        )
    with _stage(home, src, hub.commit) as stage:
        tree = download_all(hub, wanted, stage, concurrency=concurrency, progress=progress, cancel=cancel)
        kf = given or build_kitfile(tree, src, hub.commit, card_metadata(tree / "README.md"))
        log.info("Packing model to %s", tag)
        packed = api.pack(
            tree,
            kitfile=kf,
            tag=tag,
            compression="none",
            home=home,
            progress=progress,
            cancel=cancel,
            annotations={ANNOTATION_SOURCE: src.url, ANNOTATION_REVISION: hub.commit},
        )
    return ImportedModelKit(
        parse_single(tag).display(),
        packed.descriptor.digest,
        packed.kitfile,
        src.url,
        hub.commit,
        [f.path for f in wanted],
    )
