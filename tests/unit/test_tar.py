"""The tar writer against bytes produced by Go's own archive/tar (tests/golden/gotar/main.go).

The goldens were generated with Go 1.19's archive/tar, configured the way the Go
kit configures headers: ``go run main.go OUT.tar <entries>`` (see that file).
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from kitops.errors import FormatError, IntegrityError
from kitops.modelkit.tar import TYPE_FILE, GoTarWriter, header_bytes, iter_tar, split_ustar_path

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
LONG1 = "d" * 60 + "/" + "e" * 60 + "/file-with-a-long-name.bin"
LONG2 = "x" * 170 + "/short.txt"


def build(entries: list[tuple]) -> bytes:  # type: ignore[type-arg]
    out = io.BytesIO()
    w = GoTarWriter(out)
    for kind, name, mode, *rest in entries:
        if kind == "d":
            w.add_dir(name, mode)
        else:
            data = rest[0].encode()
            w.add_file(name, mode, len(data), io.BytesIO(data))
    w.close()
    return out.getvalue()


@pytest.mark.parametrize(
    ("golden", "entries"),
    [
        (
            "basic.tar",
            [
                ("d", "data", 0o755),
                ("f", "data/train.csv", 0o644, "a,b\\n1,2\\n"),
                ("f", "model.bin", 0o644, "hello\n"),
                ("d", "exec", 0o4755),
                ("f", "exec/run.sh", 0o755, "#!/bin/sh"),
            ],
        ),
        ("longname.tar", [("f", LONG1, 0o644, "long"), ("f", LONG2, 0o600, "pax-because-unsplittable")]),
        ("nonascii.tar", [("d", "données", 0o755), ("f", "données/模型.bin", 0o644, "unicode")]),
    ],
)
def test_bytes_identical_to_go_archive_tar(golden: str, entries: list[tuple]) -> None:  # type: ignore[type-arg]
    assert build(entries) == (GOLDEN / golden).read_bytes()


def test_header_for_file_of_8_gib_or_more_uses_pax_size(tmp_path: Path) -> None:
    sparse = tmp_path / "huge.bin"
    with open(sparse, "wb") as fh:
        fh.truncate(9 * 1024**3)  # sparse: no disk used
    size = os.stat(sparse).st_size
    assert size == 9663676416
    assert (
        header_bytes("weights/huge.bin", 0o644, size, TYPE_FILE) == (GOLDEN / "big-header.tar").read_bytes()
    )


def test_big_sparse_file_streams_header_first(tmp_path: Path) -> None:
    """The writer emits the Go header for an 8+ GiB file without buffering the file."""

    class Stop(Exception):
        pass

    class FirstBytes:
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, b: bytes) -> int:
            self.data += b
            if len(self.data) >= 1536:
                raise Stop
            return len(b)

    sparse = tmp_path / "huge.bin"
    with open(sparse, "wb") as fh:
        fh.truncate(9 * 1024**3)
    sink = FirstBytes()
    with open(sparse, "rb") as src, pytest.raises(Stop):
        GoTarWriter(sink).add_file("weights/huge.bin", 0o644, 9 * 1024**3, src)  # type: ignore[arg-type]
    assert bytes(sink.data[:1536]) == (GOLDEN / "big-header.tar").read_bytes()


def test_ustar_split_prefers_longest_prefix() -> None:
    assert split_ustar_path(LONG1) == ("d" * 60 + "/" + "e" * 60, "file-with-a-long-name.bin")
    assert split_ustar_path("short") is None
    assert split_ustar_path(LONG2) is None


def test_python_tarfile_reads_our_output() -> None:
    data = build([("d", "a", 0o755), ("f", "a/" + "n" * 120, 0o640, "x" * 1000), ("f", "é.txt", 0o644, "u")])
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = tf.getmembers()
    assert [m.name for m in members] == ["a", "a/" + "n" * 120, "é.txt"]
    assert [m.mode for m in members] == [0o755, 0o640, 0o644]
    assert {m.uid for m in members} == {1000} and {m.mtime for m in members} == {0}
    assert len(data) % 512 == 0 and data.endswith(b"\0" * 1024)


def test_reader_round_trip_and_refusals() -> None:
    data = build([("d", "a", 0o755), ("f", "a/" + "n" * 120, 0o640, "x" * 1000), ("f", "é.txt", 0o644, "u")])
    seen = []
    for entry, reader in iter_tar(io.BytesIO(data)):
        buf = memoryview(bytearray(4096))
        got = bytearray()
        while n := reader.readinto(buf):
            got += buf[:n]
        seen.append((entry.name, entry.typeflag, entry.mode, bytes(got)))
    assert seen == [
        ("a", "dir", 0o755, b""),
        ("a/" + "n" * 120, "file", 0o640, b"x" * 1000),
        ("é.txt", "file", 0o644, b"u"),
    ]

    # a character device entry is refused
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        info = tarfile.TarInfo("dev/null")
        info.type = tarfile.CHRTYPE
        tf.addfile(info)
    with pytest.raises(IntegrityError, match="unrecognized type in archive: dev/null"):
        list(iter_tar(io.BytesIO(bio.getvalue())))

    corrupt = bytearray(data)
    corrupt[10] ^= 0xFF
    with pytest.raises(FormatError, match="checksum"):
        list(iter_tar(io.BytesIO(bytes(corrupt))))
