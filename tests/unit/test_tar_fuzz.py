"""Fuzzing the tar reader: whatever the bytes, ``iter_tar`` parses them or raises a typed error.

Mutations of small valid archives (bit flips, truncation, random header fields with or
without a fixed-up checksum, random PAX records, random bytes) must either parse or raise
:class:`FormatError` / :class:`IntegrityError`: never another exception type, never a hang.
"""

from __future__ import annotations

import io
import tarfile
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kitops.errors import FormatError, IntegrityError
from kitops.modelkit.tar import GoTarWriter, iter_tar


def _go_seed() -> bytes:
    out = io.BytesIO()
    w = GoTarWriter(out)
    w.add_dir("data", 0o755)
    w.add_file("data/train.csv", 0o644, 8, io.BytesIO(b"a,b\n1,2\n"))
    w.add_file("d" * 60 + "/" + "e" * 60 + "/long.bin", 0o600, 3, io.BytesIO(b"abc"))  # ustar prefix split
    w.add_file("données/模型.bin", 0o644, 600, io.BytesIO(b"u" * 600))  # PAX path, two data blocks
    w.close()
    return out.getvalue()


def _tarfile_seed(fmt: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tf:
        ti = tarfile.TarInfo("src/" + "n" * 120)  # GNU ././@LongLink or PAX path
        ti.size = 5
        tf.addfile(ti, io.BytesIO(b"hello"))
        link = tarfile.TarInfo("src/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "../src/" + "n" * 120  # GNU long link or PAX linkpath
        tf.addfile(link)
        hard = tarfile.TarInfo("src/hard")
        hard.type = tarfile.LNKTYPE
        hard.linkname = "src/" + "n" * 120
        tf.addfile(hard)
    return out.getvalue()


SEEDS = [_go_seed(), _tarfile_seed(tarfile.GNU_FORMAT), _tarfile_seed(tarfile.PAX_FORMAT)]
HEADERS = [[off for off in range(0, len(s), 512) if s[off + 257 : off + 262] == b"ustar"] for s in SEEDS]
FIELDS = {  # (offset, width) of each header field
    "name": (0, 100),
    "mode": (100, 8),
    "uid": (108, 8),
    "gid": (116, 8),
    "size": (124, 12),
    "mtime": (136, 12),
    "chksum": (148, 8),
    "typeflag": (156, 1),
    "linkname": (157, 100),
    "magic": (257, 6),
    "version": (263, 2),
    "prefix": (345, 155),
}
FUZZ = settings(
    max_examples=200,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # reproducible in CI; the corpus of mutations is still broad
)


def _fix_checksum(data: bytearray, off: int) -> None:
    block = data[off : off + 512]
    block[148:156] = b" " * 8
    data[off + 148 : off + 156] = f"{sum(block):06o}".encode() + b"\0 "


def consume(data: bytes) -> None:
    """Read every entry and all its data; only the typed errors may escape."""
    buf = memoryview(bytearray(700))
    try:
        for entry, reader in iter_tar(io.BytesIO(data)):
            assert entry.typeflag in ("file", "dir", "symlink", "hardlink")
            assert isinstance(entry.name, str) and entry.name and entry.size >= 0 and entry.mode >= 0
            assert entry.name.encode("utf-8")  # always valid text
            got = 0
            while n := reader.readinto(buf):
                got += n
            assert got == entry.size
    except (FormatError, IntegrityError) as exc:
        assert exc.hint, f"{type(exc).__name__} without a hint: {exc}"


def test_seeds_parse() -> None:
    for seed in SEEDS:
        consume(seed)
    assert [e.name for e, _ in iter_tar(io.BytesIO(SEEDS[1]))][1:] == ["src/link", "src/hard"]


@pytest.mark.timeout(60)
@FUZZ
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    flips=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 7)), min_size=1, max_size=8),
)
def test_bit_flips(seed: int, flips: list[tuple[int, int]]) -> None:
    data = bytearray(SEEDS[seed])
    for pos, bit in flips:
        data[pos % len(data)] ^= 1 << bit
    consume(bytes(data))


@pytest.mark.timeout(60)
@FUZZ
@given(seed=st.sampled_from(range(len(SEEDS))), cut=st.integers(0, 1 << 20))
def test_truncation(seed: int, cut: int) -> None:
    data = SEEDS[seed]
    consume(data[: cut % (len(data) + 1)])


@pytest.mark.timeout(60)
@FUZZ
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    which=st.integers(0, 100),
    field=st.sampled_from(sorted(FIELDS)),
    value=st.one_of(
        st.binary(max_size=155),
        st.integers(-(1 << 70), 1 << 70).map(lambda n: f"{n:o}".encode()),
        st.integers(0, (1 << 88) - 1).map(
            lambda n: bytes([0x80 | (n >> 88 - 8 & 0x7F)]) + (n % (1 << 80)).to_bytes(10, "big")
        ),
        st.sampled_from(
            [
                b"\xff" * 12,
                b"-1",
                b"0o17",
                b"1_0",
                b" 7 ",
                b"\0" * 12,
                b"99999999999",
                b"x",
                b"g",
                b"L",
                b"K",
                b"3",
                b"4",
                b"6",
                b"S",
                b"V",
                b"\0",
                b"5",
                b"2",
                b"1",
                b"ustar\0",
                b"ustar ",
                b"..",
                b"/",
            ]
        ),
    ),
    fix=st.booleans(),
)
def test_random_header_fields(seed: int, which: int, field: str, value: bytes, fix: bool) -> None:
    data = bytearray(SEEDS[seed])
    off = HEADERS[seed][which % len(HEADERS[seed])]
    start, width = FIELDS[field]
    data[off + start : off + start + width] = value[:width].ljust(width, b"\0")
    if fix and field != "chksum":
        _fix_checksum(data, off)
    consume(bytes(data))


def _pax_block(records: bytes, typeflag: bytes) -> bytes:
    block = bytearray(512)
    block[0:14] = b"PaxHeaders.0/x"
    block[100:108] = b"0000644\0"
    block[124:136] = f"{len(records):011o}".encode() + b"\0"
    block[156:157] = typeflag
    block[257:265] = b"ustar\x0000"
    out = bytearray(block)
    _fix_checksum(out, 0)
    return bytes(out) + records + b"\0" * (-len(records) % 512)


_KEYS = st.sampled_from(
    [b"path", b"linkpath", b"size", b"mtime", b"uid", b"GNU.sparse.major", b"SCHILY.xattr.a", b""]
)


@st.composite
def pax_records(draw: st.DrawFn) -> bytes:
    out = b""
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.one_of(_KEYS, st.binary(max_size=12)))
        value = draw(
            st.one_of(
                st.binary(max_size=60),
                st.sampled_from(
                    [
                        b"abc",
                        b"-5",
                        b"+5",
                        b"9" * 30,
                        b"a/" * 1100 + b"f",
                        b"n" * 5000,
                        b"\xff\xfe",
                        b"a\0b",
                        b"",
                    ]
                ),
                st.integers(0, 1 << 70).map(lambda n: str(n).encode()),
            )
        )
        body = b" " + key + b"=" + value + b"\n"
        length = len(body) + len(str(len(body)))
        length = len(body) + len(str(length))  # the length counts its own digits
        declared = draw(st.one_of(st.just(length), st.integers(-3, length + 10)))
        out += str(declared).encode() + body
    return out


@pytest.mark.timeout(60)
@FUZZ
@given(seed=st.sampled_from(range(len(SEEDS))), records=pax_records(), typeflag=st.sampled_from([b"x", b"g"]))
def test_random_pax_records(seed: int, records: bytes, typeflag: bytes) -> None:
    consume(_pax_block(records, typeflag) + SEEDS[seed])


@pytest.mark.timeout(60)
@FUZZ
@given(data=st.binary(max_size=3000))
def test_random_bytes(data: bytes) -> None:
    consume(data)
