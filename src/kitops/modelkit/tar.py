"""A tar writer whose bytes equal Go's ``archive/tar`` as the Go ``kit`` uses it, and a strict reader.

Why our own writer: Python's ``tarfile`` differs from Go in at least three ways
that change layer digests (a trailing ``/`` on directory names, padding the
archive to 10240 bytes, and the shortest instead of the longest USTAR prefix
split). Rules, from the Go ``kit`` packer and Go's ``archive/tar`` writer:

* USTAR blocks, uid 1000, gid 0, empty uname/gname, mtime 0, devmajor/minor ``0000000\\0``;
* names over 100 bytes split at the last ``/`` within the first 156 bytes;
* a PAX ``x`` header (``<dir>/PaxHeaders.0/<base>``, sorted records) when the name
  is not ASCII or cannot be split, or the size is 8 GiB or more;
* data padded to 512 bytes; the archive ends with exactly two zero blocks.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, cast

from kitops.errors import FormatError, IntegrityError
from kitops.store.base import KERNEL_COPY, FileReceiver, FileSender

BLOCK = 512
NAME_SIZE = 100
PREFIX_SIZE = 155
MAX_OCTAL_SIZE = 8**11  # 8 GiB: sizes from here on need a PAX record
TAR_UID = 1000
TAR_GID = 0
TYPE_FILE = b"0"
TYPE_DIR = b"5"
TYPE_PAX = b"x"
_COALESCE = 1 << 20
# Files at least this large are copied inside the kernel when both ends are files (sendfile): no
# user-space copy of the data. Smaller ones are not worth starting the blob's hashing thread for.
KERNEL_COPY_MIN = 1 << 20
_SEND_CHUNK = 64 << 20  # per sendfile call: cancellation and progress are checked between calls
# what sendfile answers when it cannot copy between this pair of files: copy through a buffer
_NO_KERNEL_COPY = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOTSUP}


class Sink(Protocol):
    def write(self, data: bytes | bytearray | memoryview, /) -> int | None: ...


def _octal(value: int, width: int) -> bytes:
    """Go's formatOctal: zero-padded octal of ``width-1`` digits plus a NUL (0 if it does not fit)."""
    if value < 0 or value >= 8 ** (width - 1):
        value = 0
    return f"{value:0{width - 1}o}".encode() + b"\0"


def _field(text: bytes, width: int) -> bytes:
    """Go's formatString: copy, NUL-terminate when shorter, and avoid a trailing '/' when cut."""
    if len(text) >= width:
        out = bytearray(text[:width])
        if len(text) > width and out[-1:] == b"/":
            n = len(text[: width - 1].rstrip(b"/"))
            out[n] = 0
        return bytes(out)
    return text + b"\0" * (width - len(text))


def _to_ascii(name: str) -> bytes:
    return "".join(c for c in name if c.isascii()).encode("ascii")


def split_ustar_path(name: str) -> tuple[str, str] | None:
    """Go's splitUSTARPath: the longest prefix (≤155) whose remainder fits the 100-byte name field."""
    if len(name) <= NAME_SIZE or not name.isascii():
        return None
    length = len(name)
    if length > PREFIX_SIZE + 1:
        length = PREFIX_SIZE + 1
    elif name[length - 1] == "/":
        length -= 1
    i = name.rfind("/", 0, length)
    nlen = len(name) - i - 1
    if i <= 0 or nlen > NAME_SIZE or nlen == 0 or i > PREFIX_SIZE:
        return None
    return name[:i], name[i + 1 :]


def _checksum(block: bytearray) -> None:
    block[148:156] = b" " * 8
    total = sum(block)
    block[148:156] = f"{total:06o}".encode() + b"\0 "


def _v7_block(
    name: bytes, mode: int, uid: int, gid: int, size: int, typeflag: bytes, prefix: bytes, dev: bool
) -> bytearray:
    block = bytearray(BLOCK)
    block[0:100] = _field(name, 100)
    block[100:108] = _octal(mode, 8)
    block[108:116] = _octal(uid, 8)
    block[116:124] = _octal(gid, 8)
    block[124:136] = _octal(size, 12)
    block[136:148] = _octal(0, 12)
    block[156:157] = typeflag
    block[257:263] = b"ustar\0"
    block[263:265] = b"00"
    if dev:
        block[329:337] = _octal(0, 8)
        block[337:345] = _octal(0, 8)
    block[345:500] = _field(prefix, 155)
    _checksum(block)
    return block


def format_pax_record(key: str, value: str) -> bytes:
    """``"%d %s=%s\\n"`` where the length counts itself."""
    body = f" {key}={value}\n".encode()
    size = len(body) + len(str(len(body)))
    record = str(size).encode() + body
    if len(record) != size:
        record = str(len(record)).encode() + body
    return record


def header_bytes(name: str, mode: int, size: int, typeflag: bytes) -> bytes:
    """All header blocks (PAX extension first when needed) for one entry, exactly as Go writes them."""
    pax: dict[str, str] = {}
    encoded = name.encode("utf-8")
    fits_name = len(encoded) <= NAME_SIZE and name.isascii()
    split = None if fits_name else split_ustar_path(name)
    if not fits_name and split is None:
        pax["path"] = name
    if size >= MAX_OCTAL_SIZE:
        pax["size"] = str(size)
    if not pax:
        prefix, base = split if split else ("", name)
        return bytes(_v7_block(base.encode(), mode, TAR_UID, TAR_GID, size, typeflag, prefix.encode(), True))
    records = b"".join(format_pax_record(k, pax[k]) for k in sorted(pax))
    head, tail = posixpath.split(name)
    pax_name = _to_ascii(posixpath.join(head, "PaxHeaders.0", tail))[:NAME_SIZE].rstrip(b"/")
    out = bytearray(_v7_block(pax_name, 0, 0, 0, len(records), TYPE_PAX, b"", False))
    out += records + b"\0" * (-len(records) % BLOCK)
    out += _v7_block(_to_ascii(name), mode, TAR_UID, TAR_GID, size, typeflag, b"", True)
    return bytes(out)


def tar_mode(st_mode: int) -> int:
    """Permission bits plus setuid/setgid/sticky, no file-type bits (Go's FileInfoHeader)."""
    return stat.S_IMODE(st_mode)


def send_into(receiver: FileReceiver, fd: int, size: int, advance: Callable[[int], None]) -> int:
    """Copy ``size`` bytes of the file ``fd`` into ``receiver`` inside the kernel, ``advance(n)``
    after each call; returns the bytes left to copy otherwise: all of them when the kernel cannot
    copy between these two files, the rest when ``fd`` ended early (the caller reports that)."""
    remaining = size
    while remaining:
        try:
            n = receiver.receive_from(fd, min(remaining, _SEND_CHUNK))
        except OSError as exc:
            if exc.errno in _NO_KERNEL_COPY and remaining == size:
                return size
            raise
        if not n:
            break
        remaining -= n
        advance(n)
    return remaining


class GoTarWriter:
    """Streams a deterministic tar into ``sink``; small writes are coalesced into 1 MiB chunks."""

    def __init__(self, sink: Sink, *, buffer_size: int = 4 << 20) -> None:
        self._sink = sink
        self._pending = bytearray()
        self._buf = bytearray(buffer_size)
        self.bytes_written = 0

    def _emit(self, data: bytes | memoryview) -> None:
        self.bytes_written += len(data)
        if len(data) >= _COALESCE:
            self._flush()
            self._sink.write(data)
            return
        self._pending += data
        if len(self._pending) >= _COALESCE:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._sink.write(self._pending)
            self._pending = bytearray()

    def add_dir(self, name: str, mode: int) -> None:
        self._emit(header_bytes(name, mode, 0, TYPE_DIR))

    def add_file(self, name: str, mode: int, size: int, src: BinaryIO, *, on_bytes: object = None) -> None:
        """Write a regular file; exactly ``size`` bytes must come from ``src`` (it may not grow or shrink)."""
        self._emit(header_bytes(name, mode, size, TYPE_FILE))
        remaining = self._send_file(src, size, on_bytes) if self._can_receive(size) else size
        view = memoryview(self._buf)
        while remaining:
            n = src.readinto(view[: min(len(view), remaining)])  # type: ignore[attr-defined]
            if not n:
                raise IntegrityError(f"file {name} shrank while it was being packed", hint="pack again")
            self._emit(view[:n])
            if on_bytes is not None:
                on_bytes(n)  # type: ignore[operator]
            remaining -= n
        if src.read(1):
            raise IntegrityError(f"file {name} grew while it was being packed", hint="pack again")
        pad = -size % BLOCK
        if pad:
            self._emit(b"\0" * pad)

    def _can_receive(self, size: int) -> bool:
        return KERNEL_COPY and size >= KERNEL_COPY_MIN and isinstance(self._sink, FileReceiver)

    def _send_file(self, src: BinaryIO, size: int, on_bytes: object) -> int:
        """Copy ``src`` into the sink inside the kernel; the bytes left to copy otherwise (all of
        them when the kernel cannot, none when the file ended early: the caller reports that)."""
        self._flush()

        def advance(n: int) -> None:
            self.bytes_written += n
            if on_bytes is not None:
                on_bytes(n)  # type: ignore[operator]

        return send_into(
            cast(FileReceiver, self._sink), src.fileno(), size, advance
        )  # checked by _can_receive

    def close(self) -> None:
        self._emit(b"\0" * (2 * BLOCK))
        self._flush()


# --------------------------------------------------------------------------------------------
# Names of files being extracted. ``kit unpack`` writes every file under such a name beside its
# target and renames it into place once the layer verifies; an unpack that is killed leaves them
# behind. The next successful unpack removes them and ``kit pack`` never packs them.

PARTIAL_MARK = ".kit-partial-"
_PARTIAL_RE = re.compile(r"\..+\.kit-partial-(\d+)-(\d+)", re.DOTALL)


def partial_name(final_base: str, pid: int, seq: int) -> str:
    """``.<name>.kit-partial-<pid>-<seq>`` (the name cut to 150 bytes so the result fits NAME_MAX)."""
    short = os.fsdecode(os.fsencode(final_base)[:150])
    return f".{short}{PARTIAL_MARK}{pid}-{seq}"


def parse_partial_name(name: str) -> tuple[int, int] | None:
    """``(pid, seq)`` when ``name`` is exactly one of our temporary names, else ``None``."""
    m = _PARTIAL_RE.fullmatch(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


# --------------------------------------------------------------------------------------------
# Reading
#
# Every malformed input raises FormatError with a hint (entry types refused for safety raise
# IntegrityError): what Go's archive/tar rejects with ErrHeader, and names no filesystem can hold.

MAX_NAME_BYTES = 4096  # PATH_MAX on Linux
MAX_COMPONENT_BYTES = 255  # NAME_MAX of every common filesystem
MAX_COMPONENTS = 1024
MAX_SIZE = (1 << 63) - 1  # Go's int64
MAX_EXTENDED_HEADER = 1 << 20
_BAD_TAR_HINT = (
    "the layer is not a tar archive kit can read: the ModelKit is corrupt or was not made by kit pack"
)


def _bad(message: str) -> FormatError:
    return FormatError(f"invalid tar archive: {message}", hint=_BAD_TAR_HINT)


@dataclass
class TarEntry:
    name: str
    typeflag: str  # "file", "dir", "symlink", "hardlink"
    mode: int
    size: int
    linkname: str = ""


def _parse_number(field: bytes, what: str) -> int:
    """A numeric header field: NUL/space-padded octal, or GNU base-256; never negative."""
    if field and field[0] & 0x80:  # base-256 (GNU) encoding
        if field[0] & 0x40:
            raise _bad(f"negative {what} in tar header")
        value = field[0] & 0x3F
        for b in field[1:]:
            value = (value << 8) | b
        if value > MAX_SIZE:
            raise _bad(f"{what} in tar header out of range")
        return value
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    if not _OCTAL_RE.fullmatch(text):
        raise _bad(f"invalid {what} in tar header: {field!r}")
    return int(text, 8)


_OCTAL_RE = re.compile(rb"[0-7]+")
_DECIMAL_RE = re.compile(rb"[0-9]+")
_UTF8_KEYS = ("path", "linkpath", "size")


def _decode_name(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(f"{what} {raw[:200]!r} is not valid UTF-8") from None


def _parse_pax(data: bytes) -> dict[str, str]:
    """PAX records ``"%d %s=%s\\n"``, validated as Go's parsePAXRecord does."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        sp = data.find(b" ", pos, pos + 21)
        if sp < 0 or not _DECIMAL_RE.fullmatch(data[pos:sp]):
            raise _bad("malformed PAX record length")
        length = int(data[pos:sp])
        end = pos + length
        if length < 5 or end > len(data) or end <= sp + 1 or data[end - 1 : end] != b"\n":
            raise _bad("malformed PAX record")
        key_b, eq, value_b = data[sp + 1 : end - 1].partition(b"=")
        if not eq or not key_b:
            raise _bad("malformed PAX record (no key)")
        key = _decode_name(key_b, "PAX key")
        if key in _UTF8_KEYS:
            if b"\0" in value_b:
                raise _bad(f"PAX record {key} contains a NUL byte")
            value = _decode_name(value_b, f"PAX record {key}")
        else:
            value = value_b.decode("utf-8", "replace")  # not used: vendor records may be binary
        out[key] = value
        pos = end
    return out


def _check_name(name: str, what: str) -> None:
    if not name:
        raise _bad(f"empty {what}")
    if "\0" in name:
        raise _bad(f"{what} {name[:200]!r} contains a NUL byte")
    encoded = name.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        raise _bad(f"{what} of {len(encoded)} bytes (longer than {MAX_NAME_BYTES}): {name[:100]!r}…")
    parts = name.split("/")
    if len(parts) > MAX_COMPONENTS:
        raise _bad(f"{what} with {len(parts)} components (more than {MAX_COMPONENTS}): {name[:100]!r}…")
    for part in parts:
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise _bad(f"{what} {name[:100]!r}… has a component longer than {MAX_COMPONENT_BYTES} bytes")


class EntryReader:
    """Reads exactly one entry's data from the archive stream."""

    def __init__(self, stream: BinaryIO, size: int, *, can_send: bool = False) -> None:
        self._stream = stream
        self.remaining = size
        self._can_send = can_send

    def readinto(self, buf: memoryview) -> int:
        if not self.remaining:
            return 0
        want = min(len(buf), self.remaining)
        n = self._stream.readinto(buf[:want])  # type: ignore[attr-defined]
        if not n:
            raise _bad("unexpected end of archive in the middle of a file")
        self.remaining -= n
        return int(n)

    def copy_to(self, fd: int, buf: memoryview) -> None:
        """Write the rest of the entry's data to the file ``fd``: inside the kernel when the archive
        stream is a file that can send (an uncompressed layer in the local store), else through ``buf``."""
        if self._can_send and self.remaining:
            stream = cast(FileSender, self._stream)  # checked once per archive, in iter_tar
            try:
                while self.remaining:
                    n = stream.send_to(fd, min(self.remaining, _SEND_CHUNK))
                    if not n:
                        raise _bad("unexpected end of archive in the middle of a file")
                    self.remaining -= n
            except OSError as exc:
                if exc.errno not in _NO_KERNEL_COPY:
                    raise
                self._can_send = False  # nothing was copied by the failed call: go on through the buffer
        while n := self.readinto(buf):
            view = buf[:n]
            while view:
                view = view[os.write(fd, view) :]

    def skip(self) -> None:
        buf = memoryview(bytearray(min(self.remaining, 1 << 20) or 1))
        while self.remaining:
            self.readinto(buf)


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    chunks = []
    while n > 0:
        chunk = stream.read(n)
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_full(stream: BinaryIO, n: int, what: str) -> bytes:
    data = _read_exact(stream, n)
    if len(data) != n:
        raise _bad(f"unexpected end of archive in {what}")
    return data


_TYPE_NAMES = {b"0": "file", b"\0": "file", b"7": "file", b"5": "dir", b"2": "symlink", b"1": "hardlink"}
_ZERO_BLOCK = b"\0" * BLOCK


def _checksum_ok(block: bytes) -> bool:
    stored = _parse_number(block[148:156], "checksum")
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    if stored == unsigned:  # the usual case, summed in C
        return True
    # old writers summed signed chars: every byte over 127 counts 256 less
    high = sum(1 for b in block[:148] if b > 127) + sum(1 for b in block[156:] if b > 127)
    return stored == unsigned - 256 * high


def iter_tar(stream: BinaryIO) -> Iterator[tuple[TarEntry, EntryReader]]:
    """Yield entries with a data reader each; unread data is skipped.

    Raises FormatError for anything malformed and IntegrityError for entry types refused
    for safety (devices, FIFOs, sparse files...).
    """
    pax: dict[str, str] = {}
    long_name: str | None = None
    long_link: str | None = None
    pending = False  # an extended header waits for its entry
    can_send = KERNEL_COPY and isinstance(stream, FileSender)
    while True:
        block = _read_exact(stream, BLOCK)
        if len(block) < BLOCK:
            if not block and not pending:
                return  # tolerate archives without end blocks, as Go does
            raise _bad("truncated header" if block else "extended header at the end of the archive")
        if block == _ZERO_BLOCK:
            if pending:
                raise _bad("extended header at the end of the archive")
            second = _read_exact(stream, BLOCK)
            if second.strip(b"\0"):
                raise _bad("data after an end-of-archive block")
            return
        if not _checksum_ok(block):
            raise _bad("header checksum mismatch")
        typeflag = block[156:157]
        size = _parse_number(block[124:136], "size")
        if typeflag in (b"x", b"g", b"L", b"K"):
            if size > MAX_EXTENDED_HEADER:
                raise _bad(f"extended header of {size} bytes (more than {MAX_EXTENDED_HEADER})")
            data = _read_full(stream, size, "an extended header")
            _read_full(stream, -size % BLOCK, "an extended header")
            if typeflag == b"x":
                pax.update(_parse_pax(data))
            elif typeflag == b"g":
                _parse_pax(data)  # validated, not used (Go's kit never writes one)
            elif typeflag == b"L":
                long_name = _decode_name(data.split(b"\0", 1)[0], "GNU long name")
            else:
                long_link = _decode_name(data.split(b"\0", 1)[0], "GNU long link name")
            pending = typeflag != b"g" or pending
            continue
        name = _decode_name(block[0:100].split(b"\0", 1)[0], "entry name")
        if block[257:263] == b"ustar\0":  # POSIX ustar: the prefix field (GNU's holds times)
            prefix = _decode_name(block[345:500].split(b"\0", 1)[0], "entry name prefix")
            if prefix:
                name = prefix + "/" + name
        linkname_raw = block[157:257].split(b"\0", 1)[0]
        if long_name is not None:
            name = long_name
        name = pax.get("path", name)
        if "size" in pax:
            text = pax["size"].encode()
            if not _DECIMAL_RE.fullmatch(text) or int(text) > MAX_SIZE:
                raise _bad(f"invalid PAX size {pax['size'][:40]!r} for {name[:200]!r}")
            size = int(text)
        if typeflag == b"\0" and name.endswith("/"):
            typeflag = b"5"  # old tar: a "regular file" whose name ends in '/' is a directory
        kind = _TYPE_NAMES.get(typeflag)
        if kind is None or any(k.startswith("GNU.sparse.") for k in pax):
            raise IntegrityError(
                f"unrecognized type in archive: {name[:200]} (type {typeflag!r})",
                hint="device files, FIFOs and sparse entries are refused for safety",
            )
        _check_name(name, "entry name")
        linkname = ""
        if kind in ("symlink", "hardlink"):
            linkname = long_link if long_link is not None else _decode_name(linkname_raw, "link target")
            linkname = pax.get("linkpath", linkname)
            _check_name(linkname, f"link target of {name[:200]!r}")
        pax, long_name, long_link, pending = {}, None, None, False
        if kind != "file":
            size = 0  # header-only types carry no data, whatever the size field says (as in Go)
        mode = _parse_number(block[100:108], "mode")
        reader = EntryReader(stream, size, can_send=can_send)
        yield TarEntry(name=name, typeflag=kind, mode=mode, size=size, linkname=linkname), reader
        reader.skip()
        _read_full(stream, -size % BLOCK, "the padding of a file")
