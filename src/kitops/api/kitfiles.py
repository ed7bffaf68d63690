"""Kitfiles: finding, loading and generating them (``kit init``)."""

from __future__ import annotations

import os
from pathlib import Path

from kitops.api._common import KITFILE_NAMES
from kitops.errors import NotFoundError, UsageError
from kitops.kitfile.model import Kitfile


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
