"""The Kitfile of an imported repository: ``kit init``'s for the fetched tree, named after the
repository, with what its model card (the ``README.md`` front matter) says about licence and base
model; or the one the user gave, which then also decides which files are fetched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from kitops.errors import UsageError
from kitops.importers.hfsource import ImportSource
from kitops.kitfile.generate import generate_kitfile
from kitops.kitfile.load import load_kitfile_text, read_kitfile
from kitops.kitfile.model import Kitfile

KITFILE_NAMES = ("Kitfile", "kitfile", ".kitfile")
# the first MiB of a model card is plenty for its front matter, and bounds what a hostile one costs
_CARD_LIMIT = 1 << 20


def card_metadata(readme: Path) -> dict[str, Any]:
    """The YAML front matter of a model card (``README.md``), or {} when it has none or is not YAML."""
    try:
        with open(readme, encoding="utf-8", errors="replace") as fh:
            text = fh.read(_CARD_LIMIT)
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


def given_kitfile(
    kitfile: str | os.PathLike[str] | Kitfile | None, kitfile_text: str | None
) -> Kitfile | None:
    """The Kitfile the user gave (a :class:`Kitfile`, YAML text or a path), strictly parsed; None
    when the import is to generate one."""
    if isinstance(kitfile, Kitfile):
        return kitfile
    if kitfile_text is not None:
        return load_kitfile_text(kitfile_text, source="<stdin>")
    if kitfile is not None:
        return load_kitfile_text(read_kitfile(kitfile), source=str(kitfile))
    return None


def own_kitfile(tree: Path) -> Kitfile | None:
    """The Kitfile a repository carries at its root, if any."""
    for name in KITFILE_NAMES:
        path = tree / name
        if path.is_file():
            return given_kitfile(path, None)
    return None


def layer_paths(kf: Kitfile) -> list[str]:
    """The paths a Kitfile packs; "." when its model has no path (the whole directory)."""
    paths = kf.layer_paths()
    if kf.model is not None and not kf.model.path:
        paths.append(".")
    return paths


def check_concurrency(concurrency: int) -> None:
    if concurrency < 1:
        raise UsageError(f"invalid concurrency {concurrency}", hint="use 1 or more")
