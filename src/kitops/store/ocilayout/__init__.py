"""OCI image layouts (a directory, or a tar of one) as stores: ``kit save`` copies ModelKits from
local storage into one, ``kit load`` copies them back out.

:func:`writing` opens the layout a save writes into (committed only when the block succeeds),
:func:`open_source` the layout a load reads from: a directory, a tar file read in place, or a
tar stream (a pipe), whose blobs go into ``blobs`` as they arrive.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from kitops.errors import AlreadyExistsError, NotFoundError, UsageError
from kitops.progress import Cancel, Progress
from kitops.store.base import Store
from kitops.store.ocilayout.archive import OciLayoutArchive, OciLayoutStream, OciLayoutTarWriter
from kitops.store.ocilayout.directory import OciLayoutDir
from kitops.store.ocilayout.index import ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, LayoutIndex
from kitops.store.ocilayout.localblobs import LocalBlobs

FORMATS = ("tar", "oci-dir")
LayoutSink = OciLayoutDir | OciLayoutTarWriter
LayoutSource = OciLayoutDir | OciLayoutArchive | OciLayoutStream


@contextlib.contextmanager
def writing(output: Path | BinaryIO, fmt: str = "tar") -> Iterator[LayoutSink]:
    """The layout to copy into; committed (``index.json`` written) when the block ends normally.

    A tar written to a path goes to a temporary name beside it and is renamed at the end, so a
    failed save leaves no half archive under the name asked for (a stream cannot be taken back).
    """
    if fmt == "oci-dir":
        if not isinstance(output, Path):
            raise UsageError(
                "an oci-dir layout is a directory: it cannot be written to a stream",
                hint="use --format tar to write to standard output",
            )
        layout = OciLayoutDir.create(output)
        yield layout
        layout.commit()
    elif fmt == "tar":
        if not isinstance(output, Path):
            writer = OciLayoutTarWriter(output)
            yield writer
            writer.commit()
            return
        if output.is_dir():
            raise AlreadyExistsError(
                f"{output} is a directory",
                hint="name a file, or write a layout directory with --format oci-dir",
            )
        if not output.parent.is_dir():
            raise NotFoundError(f"{output.parent} does not exist", hint="create the directory first")
        fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as fh:
                writer = OciLayoutTarWriter(fh)
                yield writer
                writer.commit()
            os.chmod(tmp, 0o644)
            os.replace(tmp, output)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    else:
        raise UsageError(f"unknown layout format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")


def open_source(
    source: Path | BinaryIO,
    blobs: Store,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> LayoutSource:
    """The layout at ``source``: a directory, a tar file (indexed in place), or a stream (a pipe,
    or a path that is not a regular file, such as a FIFO), read now into ``blobs``."""
    if not isinstance(source, Path):
        return OciLayoutStream.receive(source, blobs, progress=progress, cancel=cancel)
    if source.is_dir():
        return OciLayoutDir.open(source)
    if source.is_file():
        return OciLayoutArchive.open(source)
    if not source.exists():
        raise NotFoundError(f"{source} does not exist")
    with open(source, "rb") as stream:
        return OciLayoutStream.receive(stream, blobs, what=str(source), progress=progress, cancel=cancel)


__all__ = [
    "ANNOTATION_IMAGE_NAME",
    "ANNOTATION_REF_NAME",
    "FORMATS",
    "LayoutIndex",
    "LayoutSink",
    "LayoutSource",
    "LocalBlobs",
    "OciLayoutArchive",
    "OciLayoutDir",
    "OciLayoutStream",
    "OciLayoutTarWriter",
    "open_source",
    "writing",
]
