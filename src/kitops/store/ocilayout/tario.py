"""Tar archives of an OCI image layout: written as one forward stream, read by one header scan
(a file) or front to back (a pipe).

Headers come from the standard library's ``tarfile.TarInfo`` (USTAR, with a PAX record only
where USTAR cannot hold a value: sizes of 8 GiB and more), with every varying field fixed
(mtime 0, uid/gid 0, no user names), so the same layout always gives the same archive bytes.
The data itself never passes through ``tarfile``: it is copied in large buffers straight from
the store to the output, and read back in place from the archive by offset.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, cast

from kitops.errors import FormatError

BLOCK = 512
# An OCI layout holds one member per blob plus three: tens for a few ModelKits, hundreds for a
# ModelPack with a layer per shard. The bound keeps a hostile archive of millions of empty members
# from costing minutes, and what is kept per member (tarfile keeps every header it reads) under
# about 12 MiB (measured: 65,536 members cost 50 MiB and 4 s).
MAX_MEMBERS = 16_384
_HINT = "the input is not a tar archive of an OCI image layout (as written by kit save or skopeo)"


def _header(name: str, size: int, kind: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


class TarStreamWriter:
    """Appends members to ``out`` strictly in order: no seeking, so ``out`` may be a pipe."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._open: tuple[str, int] | None = None  # the member whose data is being written
        self._written = 0

    def add_dir(self, name: str) -> None:
        self._out.write(_header(name.rstrip("/") + "/", 0, tarfile.DIRTYPE))

    def add_bytes(self, name: str, data: bytes) -> None:
        self.begin(name, len(data))
        self.write(data)
        self.end()

    def begin(self, name: str, size: int) -> None:
        """Start a regular file of exactly ``size`` bytes; :meth:`write` its data, then :meth:`end`."""
        assert self._open is None, "the previous member was not ended"
        self._out.write(_header(name, size, tarfile.REGTYPE))
        self._open = (name, size)
        self._written = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        assert self._open is not None
        self._written += len(data)
        if self._written > self._open[1]:
            raise FormatError(f"{self._open[0]}: more data than its header's {self._open[1]} bytes")
        self._out.write(data)
        return len(data)

    def end(self) -> None:
        assert self._open is not None
        name, size = self._open
        if self._written != size:
            raise FormatError(f"{name}: {self._written} bytes written, its header says {size}")
        self._out.write(_padding(size))
        self._open = None

    def close(self) -> None:
        """The end-of-archive marker (two zero blocks); ``out`` stays open (it may be stdout)."""
        self._out.write(b"\0" * (2 * BLOCK))
        self._out.flush()


@dataclass(frozen=True)
class Member:
    """Where a regular file's data lies in the archive."""

    offset: int
    size: int


def member_name(name: str) -> str:
    """A member's name as a layout path: ``./blobs/x`` and ``blobs/x`` are the same file."""
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def _members(tf: tarfile.TarFile, what: str) -> Iterator[tarfile.TarInfo]:
    count = 0
    try:
        while (info := tf.next()) is not None:
            count += 1
            if count > MAX_MEMBERS:
                raise FormatError(f"{what} has more than {MAX_MEMBERS} members", hint=_HINT)
            yield info
    except (tarfile.TarError, EOFError) as exc:
        raise FormatError(f"{what} is not a readable tar archive: {exc}", hint=_HINT) from None


def index_members(path: Path) -> dict[str, Member]:
    """Every regular file of the tar at ``path`` by layout path, from one pass over its headers
    (the data is skipped by seeking, never read). A name listed twice is refused: which copy a
    reader would take is not defined."""
    found: dict[str, Member] = {}
    with open(path, "rb") as fh:
        try:
            tf = tarfile.open(fileobj=fh, mode="r:")  # noqa: SIM115 - entered just below
        except (tarfile.TarError, EOFError) as exc:
            raise FormatError(f"{path} is not a readable tar archive: {exc}", hint=_HINT) from None
        with tf:
            for info in _members(tf, str(path)):
                if not info.isreg():
                    continue
                name = member_name(info.name)
                if name in found:
                    raise FormatError(f"{path} lists {name} twice", hint=_HINT)
                found[name] = Member(info.offset_data, info.size)
    return found


def stream_members(stream: BinaryIO, what: str) -> Iterator[tuple[str, BinaryIO, int]]:
    """The regular files of the tar read from ``stream`` front to back, as (layout path, reader of
    its data, size). Each reader is valid until the next member is asked for."""
    try:
        tf = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - entered just below
    except (tarfile.TarError, EOFError) as exc:
        raise FormatError(f"{what} is not a readable tar archive: {exc}", hint=_HINT) from None
    with tf:
        for info in _members(tf, what):
            if not info.isreg():
                continue
            data = tf.extractfile(info)
            assert data is not None  # a regular file always has data
            with _StreamedData(data, what) as reader:
                yield member_name(info.name), cast(BinaryIO, reader), info.size


class _StreamedData(io.RawIOBase):
    """A member's data in a streamed archive; an archive that ends inside it is a FormatError."""

    def __init__(self, data: IO[bytes], what: str) -> None:
        super().__init__()
        self._data = data
        self._what = what

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            return self._data.readinto(buf)  # type: ignore[attr-defined,no-any-return]
        except (tarfile.TarError, EOFError) as exc:
            raise FormatError(f"{self._what} ends inside a member: {exc}", hint=_HINT) from None

    def close(self) -> None:
        if not self.closed:
            self._data.close()
        super().close()


class Section(io.RawIOBase):
    """``size`` bytes of an open file from its current position; closing it closes the file."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        super().__init__()
        self._fh = fh
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buf)
        want = min(len(view), self._left)
        if want <= 0:
            return 0
        n = self._fh.readinto(view[:want])  # type: ignore[attr-defined]
        self._left -= n
        return int(n)

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
        super().close()


def read_member(path: Path, member: Member, limit: int, what: str) -> bytes:
    """A small member (index.json, oci-layout) whole; one larger than ``limit`` is refused."""
    if member.size > limit:
        raise FormatError(f"{what} is {member.size} bytes, over the {limit}-byte limit", hint=_HINT)
    with open(path, "rb") as fh:
        fh.seek(member.offset)
        data = fh.read(member.size)
    if len(data) != member.size:
        raise FormatError(f"{what} is cut short ({len(data)} of {member.size} bytes)", hint=_HINT)
    return data


def read_small(reader: BinaryIO, size: int, limit: int, what: str) -> bytes:
    """A small member of a streamed archive whole; one larger than ``limit`` is refused unread."""
    if size > limit:
        raise FormatError(f"{what} is {size} bytes, over the {limit}-byte limit", hint=_HINT)
    data = reader.read(size)
    if len(data) != size:
        raise FormatError(f"{what} is cut short ({len(data)} of {size} bytes)", hint=_HINT)
    return data
