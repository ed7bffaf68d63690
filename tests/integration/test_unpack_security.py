"""Unpack refuses hostile archives: traversal, absolute paths, escaping links, devices,
symlink chains, conflicting entries and malformed headers; pack refuses layer paths that
are symlinks leading out of the context and never packs what an interrupted unpack left.

Each unpack test stores a hand-made layer in a real local store (with a correct digest,
so only the path checks can stop it) and unpacks it.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kitops import api
from kitops.errors import AlreadyExistsError, FormatError, IntegrityError, KitfileError
from kitops.kitfile.model import CodeEntry, Kitfile, LayerInfo
from kitops.modelkit import unpack as unpack_module
from kitops.modelkit.read import load_modelkit_at
from kitops.modelkit.unpack import unpack_modelkit
from kitops.oci import mediatypes as mt
from kitops.oci.models import Manifest
from kitops.store.layout import LocalStore


def hostile_kit(tmp_path: Path, entries: list[tarfile.TarInfo], data: dict[str, bytes] | None = None):  # type: ignore[no-untyped-def]
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info in entries:
            payload = (data or {}).get(info.name)
            if payload is not None:
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
            else:
                tf.addfile(info)
    return raw_kit(tmp_path, bio.getvalue())


def raw_kit(tmp_path: Path, layer_bytes: bytes):  # type: ignore[no-untyped-def]
    """A ModelKit whose one (code) layer is ``layer_bytes``, stored with a correct digest."""
    store = LocalStore(tmp_path / "storage")
    layer = store.put_bytes(mt.layer_media_type("code"), layer_bytes)
    kf = Kitfile(
        manifest_version="1.0.0", code=[CodeEntry(path="src", layer=LayerInfo(layer.digest, layer.digest))]
    )
    cfg = store.put_bytes(mt.KIT_CONFIG, kf.to_config_bytes())
    man = store.put_bytes(mt.OCI_MANIFEST, Manifest(cfg, (layer,)).to_bytes())
    repo = store.repository("localhost/evil")
    repo.tag(man, "v1")
    return repo, load_modelkit_at(repo, man)


def info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = link
    ti.mode = 0o644
    return ti


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([info("../escape.txt")], "escapes the target directory"),
        ([info("src/../../escape.txt")], "escapes the target directory"),
        ([info("/etc/evil")], "absolute paths are not allowed"),
        ([info("src/link", tarfile.SYMTYPE, "/etc/passwd")], "absolute link targets"),
        ([info("src/link", tarfile.SYMTYPE, "../../outside")], "points outside"),
        ([info("src/hard", tarfile.LNKTYPE, "../outside")], "escapes the target directory|points outside"),
        ([info("src/dev", tarfile.CHRTYPE)], "unrecognized type in archive"),
        ([info("src/fifo", tarfile.FIFOTYPE)], "unrecognized type in archive"),
    ],
)
def test_hostile_entries_are_refused(tmp_path: Path, entries: list[tarfile.TarInfo], message: str) -> None:
    repo, kit = hostile_kit(
        tmp_path, entries, {e.name: b"pwned" for e in entries if e.type == tarfile.REGTYPE}
    )
    out = tmp_path / "out"
    with pytest.raises(IntegrityError, match=message):
        unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert not (tmp_path / "escape.txt").exists()
    assert not [p for p in out.rglob("*") if p.is_file() or p.is_symlink()]


def test_write_through_preexisting_symlink_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "src").symlink_to(outside)
    repo, kit = hostile_kit(tmp_path, [info("src/file.txt")], {"src/file.txt": b"pwned"})
    with pytest.raises(IntegrityError, match="symlink leads outside"):
        unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert not (outside / "file.txt").exists()


def test_setuid_bits_are_dropped_and_safe_symlinks_kept(tmp_path: Path) -> None:
    exe = info("src/run.sh")
    exe.mode = 0o4755
    link = info("src/alias.sh", tarfile.SYMTYPE, "run.sh")
    repo, kit = hostile_kit(
        tmp_path, [info("src", tarfile.DIRTYPE), exe, link], {"src/run.sh": b"#!/bin/sh\n"}
    )
    out = tmp_path / "out"
    unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert os.stat(out / "src" / "run.sh").st_mode & 0o7777 == 0o755
    assert os.readlink(out / "src" / "alias.sh") == "run.sh"
    assert (out / "src" / "alias.sh").read_bytes() == b"#!/bin/sh\n"


def test_a_dot_dot_name_is_just_a_name(tmp_path: Path) -> None:
    repo, kit = hostile_kit(tmp_path, [info("src/a..b")], {"src/a..b": b"fine"})
    out = tmp_path / "out"
    unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert (out / "src" / "a..b").read_bytes() == b"fine"


# --------------------------------------------------------------------------------------------
# Symlink chains and hard links


def files_below(root: Path) -> list[Path]:
    return [Path(d) / f for d, dirs, files in os.walk(root) for f in [*files, *dirs]]


def assert_confined(out: Path, outside: list[Path]) -> None:
    """No symlink in ``out`` resolves outside it; no file in ``out`` shares an inode with one outside."""
    real_out = os.path.realpath(out)
    foreign = {(os.stat(p).st_dev, os.stat(p).st_ino) for p in outside}
    for p in files_below(out):
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            assert os.path.commonpath([os.path.realpath(p), real_out]) == real_out, f"{p} escapes"
        elif stat.S_ISREG(st.st_mode):
            assert (st.st_dev, st.st_ino) not in foreign, f"{p} is a file outside the target"
            assert st.st_nlink == 1, f"{p} is hard-linked to something"


def chain_entries(hard_target: str) -> list[tarfile.TarInfo]:
    """``model/u15`` resolves to ``/`` though each link looks harmless on its own."""
    entries = [
        info("model", tarfile.DIRTYPE),
        info("model/sub", tarfile.DIRTYPE),
        info("model/sub/l2", tarfile.SYMTYPE, ".."),
        info("model/u1", tarfile.SYMTYPE, "sub/l2/.."),
    ]
    entries += [info(f"model/u{n}", tarfile.SYMTYPE, f"u{n - 1}/..") for n in range(2, 16)]
    entries.append(info("model/escape", tarfile.SYMTYPE, "u15/etc"))
    entries.append(info("model/passwd", tarfile.LNKTYPE, hard_target))
    return entries


def test_symlink_chain_cannot_escape_and_hard_link_cannot_grab_outside_files(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    secret = victim / "secret.txt"
    secret.write_text("do not link me")
    outside = [secret] + ([Path("/etc/passwd")] if os.path.exists("/etc/passwd") else [])
    before = sorted(p.name for p in tmp_path.iterdir())
    repo, kit = hostile_kit(tmp_path, chain_entries("model/u15" + str(secret)))
    out = tmp_path / "out"
    with pytest.raises(
        IntegrityError, match=r"illegal link: model/u1 -> sub/l2/\.\.: '\.\.' after model/sub/l2"
    ):
        unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "out") == sorted([*before, "storage"])
    assert sorted(p.name for p in victim.iterdir()) == ["secret.txt"] and os.stat(secret).st_nlink == 1
    assert not [p for p in files_below(out) if p.is_symlink() or p.is_file()]
    assert_confined(out, outside)


def test_symlink_chain_through_a_link_already_on_disk_is_refused(tmp_path: Path) -> None:
    """The first link of the chain may come from an earlier layer (or unpack): it is on disk."""
    out = tmp_path / "out"
    (out / "model" / "sub").mkdir(parents=True)
    (out / "model" / "sub" / "l2").symlink_to("..")
    repo, kit = hostile_kit(tmp_path, chain_entries("model/u15/etc/passwd")[3:])
    with pytest.raises(IntegrityError, match="which is not a directory"):
        unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert sorted(os.listdir(out / "model")) == ["sub"]
    assert_confined(out, [Path("/etc/passwd")] if os.path.exists("/etc/passwd") else [])


def test_symlink_chain_via_the_cli_fails_with_a_clear_error(tmp_path: Path) -> None:
    from tests.helpers import kit as run_kit

    hostile_kit(tmp_path, chain_entries("model/u15/etc/passwd"))
    out = tmp_path / "out"
    res = run_kit(tmp_path, "unpack", "evil:v1", "-d", str(out))
    assert res.exit_code == 1, res.output
    assert "illegal link: model/u1 -> sub/l2/.." in res.stderr and "hint: " in res.stderr
    assert "unexpected error" not in res.stderr
    assert not (out / "model" / "passwd").exists()


def test_hard_link_only_to_a_file_of_the_same_layer(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "src").mkdir(parents=True)
    (out / "src" / "local.txt").write_text("already here, not from the archive")
    repo, kit = hostile_kit(tmp_path, [info("src/alias", tarfile.LNKTYPE, "src/local.txt")])
    with pytest.raises(
        IntegrityError, match="a hard link may only point to a regular file extracted earlier"
    ):
        unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert not (out / "src" / "alias").exists() and os.stat(out / "src" / "local.txt").st_nlink == 1


def test_safe_links_still_work(tmp_path: Path) -> None:
    """Hugging Face cache style: '..' across real directories; a hard link to a file of the layer."""
    entries = [
        info("src/blobs", tarfile.DIRTYPE),
        info("src/blobs/abc"),
        info("src/snap", tarfile.DIRTYPE),
        info("src/snap/v1", tarfile.DIRTYPE),
        info("src/snap/v1/model.bin", tarfile.SYMTYPE, "../../blobs/abc"),
        info("src/latest", tarfile.SYMTYPE, "snap/v1"),
        info("src/via-latest.bin", tarfile.SYMTYPE, "latest/model.bin"),
        info("src/copy.bin", tarfile.LNKTYPE, "src/blobs/abc"),
    ]
    repo, kit = hostile_kit(tmp_path, entries, {"src/blobs/abc": b"weights"})
    out = tmp_path / "out"
    unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert (out / "src" / "snap" / "v1" / "model.bin").read_bytes() == b"weights"
    assert (out / "src" / "via-latest.bin").read_bytes() == b"weights"
    assert os.stat(out / "src" / "copy.bin").st_ino == os.stat(out / "src" / "blobs" / "abc").st_ino


def test_write_through_a_symlink_inside_the_target_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "real").mkdir(parents=True)
    (out / "src").symlink_to("real")
    repo, kit = hostile_kit(tmp_path, [info("src/file.txt")], {"src/file.txt": b"x"})
    with pytest.raises(IntegrityError, match="is a symlink on its way"):
        unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert os.listdir(out / "real") == []


# --------------------------------------------------------------------------------------------
# Names: backslashes and conflicts


def test_backslash_is_kept_literally_on_posix(tmp_path: Path) -> None:
    repo, kit = hostile_kit(tmp_path, [info("src/a\\b.txt")], {"src/a\\b.txt": b"literal"})
    out = tmp_path / "out"
    unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert os.listdir(out / "src") == ["a\\b.txt"]
    assert (out / "src" / "a\\b.txt").read_bytes() == b"literal"


def test_backslash_is_refused_on_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unpack_module, "_WINDOWS", True)
    repo, kit = hostile_kit(tmp_path, [info("src/a\\b.txt")], {"src/a\\b.txt": b"literal"})
    out = tmp_path / "out"
    with pytest.raises(IntegrityError, match=r"src/a\\b.txt: a backslash would become a directory separator"):
        unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert not [p for p in files_below(out) if p.is_file()]


def leftovers(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in files_below(out) if p.is_file() or p.is_symlink())


@pytest.mark.parametrize(
    ("on_disk", "entries", "error", "message"),
    [
        # a file entry where a directory exists
        (
            "dir",
            [info("src/b")],
            AlreadyExistsError,
            r"archive entry src/b \(file\): .*/out/src/b exists and is a directory",
        ),
        # a directory entry where a file exists
        (
            "file",
            [info("src/b", tarfile.DIRTYPE)],
            AlreadyExistsError,
            r"archive entry src/b/: .*/out/src/b exists and is not a directory",
        ),
        # a file below a path that exists as a file
        (
            "file",
            [info("src/b/c")],
            AlreadyExistsError,
            r"archive entry src/b/c: .*/out/src/b exists and is not a directory",
        ),
        # a link where a directory exists
        (
            "dir",
            [info("src/b", tarfile.SYMTYPE, "first.txt")],
            AlreadyExistsError,
            r"archive entry src/b \(symlink\): .*/out/src/b exists and is a directory",
        ),
        # the same name twice in one layer
        (
            None,
            [info("src/b"), info("src/b")],
            FormatError,
            r"archive entry src/b \(file\) conflicts with an earlier entry of the layer for the same path .*/out/src/b \(file\)",
        ),
        # a file, then a file below it
        (
            None,
            [info("src/b"), info("src/b/c")],
            FormatError,
            r"archive entry src/b/c needs src/b to be a directory, but the layer also has src/b as a file",
        ),
        # a directory, then a file of the same name
        (
            None,
            [info("src/b", tarfile.DIRTYPE), info("src/b")],
            FormatError,
            r"archive entry src/b \(file\) conflicts with an earlier entry .* \(directory\)",
        ),
        # a file below, then a file of the directory's name
        (
            None,
            [info("src/b/c"), info("src/b")],
            FormatError,
            r"archive entry src/b is a file, but earlier entries of the layer use .*/out/src/b as a directory",
        ),
        # a file, then a link of the same name
        (
            None,
            [info("src/b"), info("src/b", tarfile.SYMTYPE, "first.txt")],
            FormatError,
            r"archive entry src/b \(symlink\) conflicts with an earlier entry .* \(file\)",
        ),
        # a symlink, then a file below it (would be written through the link)
        (
            None,
            [info("src/b", tarfile.SYMTYPE, "."), info("src/b/c")],
            FormatError,
            r"archive entry src/b/c needs src/b to be a directory, but the layer also has src/b as a symlink",
        ),
    ],
)
def test_name_conflicts_name_the_entry_and_leave_nothing_of_the_layer(
    tmp_path: Path, on_disk: str | None, entries: list[tarfile.TarInfo], error: type[Exception], message: str
) -> None:
    out = tmp_path / "out"
    (out / "src").mkdir(parents=True)
    if on_disk == "dir":
        (out / "src" / "b").mkdir()
    elif on_disk == "file":
        (out / "src" / "b").write_text("mine")
    before = leftovers(out)
    all_entries = [info("src/first.txt"), *entries]
    repo, kit = hostile_kit(tmp_path, all_entries, {"src/first.txt": b"1"})
    # tarfile's addfile takes sizes from the data dict by name: duplicates share it
    with pytest.raises(error, match=message):
        unpack_modelkit(repo, kit, out, include_kitfile=False, overwrite=True)
    assert leftovers(out) == before  # neither first.txt nor any .kit-partial-* file


# --------------------------------------------------------------------------------------------
# Malformed headers


def ustar_block(name: bytes, size_field: bytes, typeflag: bytes) -> bytes:
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = b"0001750\0"
    block[116:124] = b"0000000\0"
    block[124:136] = size_field
    block[136:148] = b"00000000000\0"
    block[156:157] = typeflag
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}".encode() + b"\0 "
    return bytes(block)


def octal(n: int) -> bytes:
    return f"{n:011o}".encode() + b"\0"


def pax_record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + len(str(len(body)))
    if len(str(n)) + len(body) != n:
        n += 1
    return str(n).encode() + body


def pax_then_file(records: bytes, data: bytes = b"x") -> bytes:
    out = ustar_block(b"PaxHeaders.0/f", octal(len(records)), b"x") + records + b"\0" * (-len(records) % 512)
    out += ustar_block(b"src/f", octal(len(data)), b"0") + data + b"\0" * (-len(data) % 512)
    return out + b"\0" * 1024


MALFORMED = {
    "pax-size-abc": pax_then_file(pax_record(b"size", b"abc")),
    "pax-size-negative": pax_then_file(pax_record(b"size", b"-5")),
    "size-negative-base256": ustar_block(b"src/f", b"\xff" * 12, b"0") + b"\0" * 1024,
    "size-beyond-blob": ustar_block(b"src/f", octal(1 << 30), b"0") + b"x" * 512,
    "path-2000-components": pax_then_file(pax_record(b"path", b"a/" * 1999 + b"f")),
    "name-over-100kB": pax_then_file(pax_record(b"path", b"n" * 100_001)),
    "pax-path-not-utf8": pax_then_file(pax_record(b"path", b"src/\xff\xfe.bin")),
    "pax-record-truncated": pax_then_file(b"30 path=src/f\n"),
    "pax-at-end": ustar_block(b"PaxHeaders.0/f", octal(12), b"x") + b"12 path=abc\n" + b"\0" * 500,
    "size-not-octal": ustar_block(b"src/f", b"99999999999\0", b"0") + b"\0" * 1024,
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_headers_are_format_errors(tmp_path: Path, case: str) -> None:
    repo, kit = raw_kit(tmp_path, MALFORMED[case])
    out = tmp_path / "out"
    with pytest.raises(FormatError, match="invalid tar archive") as exc_info:
        unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert exc_info.value.hint
    assert not [p for p in files_below(out) if p.is_file()]


@pytest.mark.parametrize("case", ["pax-size-abc", "name-over-100kB", "path-2000-components"])
def test_malformed_headers_via_the_cli_are_not_unexpected_errors(tmp_path: Path, case: str) -> None:
    from tests.helpers import kit as run_kit

    raw_kit(tmp_path, MALFORMED[case])
    res = run_kit(tmp_path, "unpack", "evil:v1", "-d", str(tmp_path / "out"))
    assert res.exit_code == 1
    assert "invalid tar archive" in res.stderr and "hint: the layer is not a tar archive" in res.stderr
    assert "unexpected error" not in res.stderr


# --------------------------------------------------------------------------------------------
# Interrupted unpacks: stale .kit-partial-* files


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_successful_unpack_removes_stale_partial_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "src").mkdir(parents=True)
    stale_dead = out / "src" / f".model.bin.kit-partial-{dead_pid()}-3"
    stale_mine = (
        out / "src" / f".model.bin.kit-partial-{os.getpid()}-987654321"
    )  # this process is not writing it
    alive = (
        out / "src" / f".model.bin.kit-partial-{os.getppid()}-5"
    )  # another process may still be writing it
    lookalikes = [
        out / "src" / "model.bin.kit-partial-1-2",
        out / "src" / ".model.bin.kit-partial-x-2",
        out / "src" / ".model.bin.kit-partial-1-2.txt",
    ]
    for p in [stale_dead, stale_mine, alive, *lookalikes]:
        p.write_bytes(b"half a file")
    repo, kit = hostile_kit(tmp_path, [info("src/model.bin")], {"src/model.bin": b"whole"})
    unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert (out / "src" / "model.bin").read_bytes() == b"whole"
    assert not stale_dead.exists() and not stale_mine.exists()
    assert alive.exists() and all(p.exists() for p in lookalikes)


def test_failed_unpack_keeps_partial_files_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "src").mkdir(parents=True)
    stale = out / "src" / f".a.kit-partial-{dead_pid()}-3"
    stale.write_bytes(b"half")
    repo, kit = hostile_kit(tmp_path, [info("src/a"), info("src/a")], {"src/a": b"1"})
    with pytest.raises(FormatError):
        unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert sorted(os.listdir(out / "src")) == [stale.name]


def test_pack_never_includes_partial_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tests.helpers import layer_names, write_tree

    ctx = write_tree(
        tmp_path / "ctx",
        {
            "Kitfile": "manifestVersion: 1.0.0\ncode: [{path: src}]\n",
            "src/model.bin": "whole",
            "src/.model.bin.kit-partial-123-4": "half a file",
            "src/.notes.kit-partial": "not ours: kept",
        },
    )
    res = api.pack(ctx, tag="p:v1", home=tmp_path / "h")
    names = layer_names(LocalStore(tmp_path / "h" / "storage"), res.manifest.layers[0].digest)
    assert names == ["src", "src/.notes.kit-partial", "src/model.bin"]
    assert (
        "src/.model.bin.kit-partial-123-4: a partial file left behind by an interrupted kit unpack"
        in caplog.text
    )


# --------------------------------------------------------------------------------------------
# Pack: a layer path that is a symlink leading outside the context


@pytest.mark.parametrize(
    ("layout", "path", "message"),
    [
        (
            "absolute",
            "weights",
            r"layer path weights is a symlink leading outside the context directory: weights -> /",
        ),
        (
            "relative",
            "weights",
            r"layer path weights is a symlink leading outside the context directory: "
            r"weights -> \.\./secret",
        ),
        (
            "parent",
            "models/weights",
            r"layer path models/weights goes through a symlink leading outside the context "
            r"directory: models -> /",
        ),
    ],
)
def test_pack_refuses_a_layer_path_symlinked_outside_the_context(
    tmp_path: Path, layout: str, path: str, message: str
) -> None:
    from tests.helpers import write_tree

    secret = write_tree(tmp_path / "secret", {"weights/id_rsa": "PRIVATE", "id_rsa": "PRIVATE"})
    ctx = write_tree(
        tmp_path / "ctx", {"Kitfile": f"manifestVersion: 1.0.0\nmodel: {{name: m, path: {path}}}\n"}
    )
    if layout == "absolute":
        (ctx / "weights").symlink_to(secret)
    elif layout == "relative":
        (ctx / "weights").symlink_to("../secret")
    else:
        (ctx / "models").symlink_to(secret)
    home = tmp_path / "h"
    with pytest.raises(KitfileError, match=message) as exc_info:
        api.pack(ctx, tag="s:v1", home=home)
    assert str(secret) in str(exc_info.value) and exc_info.value.hint
    blobs = home / "storage" / "blobs"
    assert not blobs.exists() or not [p for p in blobs.rglob("*") if p.is_file()]


def test_pack_follows_a_layer_path_symlinked_inside_the_context(tmp_path: Path) -> None:
    from tests.helpers import layer_names, write_tree

    ctx = write_tree(
        tmp_path / "ctx",
        {
            "Kitfile": "manifestVersion: 1.0.0\nmodel: {name: m, path: weights}\n",
            "store/v2/model.bin": "w",
        },
    )
    (ctx / "weights").symlink_to("store/v2")
    res = api.pack(ctx, tag="s:v1", home=tmp_path / "h")
    assert layer_names(LocalStore(tmp_path / "h" / "storage"), res.manifest.layers[0].digest) == [
        "weights",
        "weights/model.bin",
    ]


def test_pack_refuses_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    from tests.helpers import kit

    project = tmp_path / "p"
    (project / "d").mkdir(parents=True)
    (project / "Kitfile").write_text("manifestVersion: 1.0.0\ncode:\n  - path: d\n")
    with open(os.fsencode(project / "d") + b"/bad\xff.bin", "wb") as fh:
        fh.write(b"x")
    result = kit(tmp_path / "home", "pack", str(project), "-t", "nu:v1")
    assert result.exit_code == 1
    assert "file name d/bad\\xff.bin is not valid UTF-8" in result.output
    assert "hint: rename the file" in result.output and "unexpected error" not in result.output
