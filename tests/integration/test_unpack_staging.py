"""A layer whose path is new in the target is written under one hidden staging name and renamed
once, after its digest is verified; layers that share a path, or a path already on disk, get a
temporary name per file. Either way nothing of a failed layer keeps its final name."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from kitops import api
from kitops.errors import FormatError, IntegrityError
from kitops.modelkit.unpack import unpack_modelkit
from kitops.store.layout import LocalStore
from tests.integration.test_unpack_security import dead_pid, hostile_kit, info


def everything_below(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


class Renames:
    """Counts the renames unpack makes (os.rename and os.replace)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str]] = []
        for name in ("rename", "replace"):
            real = getattr(os, name)

            def spy(src: str, dst: str, *args: object, _real=real, **kwargs: object) -> None:  # type: ignore[no-untyped-def]
                self.calls.append((os.fspath(src), os.fspath(dst)))
                _real(src, dst, *args, **kwargs)

            monkeypatch.setattr(os, name, spy)


def test_a_new_layer_path_is_written_under_one_staging_name_and_renamed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"src/d{i % 7}/f{i}.txt": f"content {i}".encode() for i in range(60)}
    entries = [info("src", tarfile.DIRTYPE)]
    for name in files:
        entries.append(info(name))
    odd = info("src/run.sh")
    odd.mode = 0o777  # more than the umask lets through: must still be exact
    private = info("src/key.pem")
    private.mode = 0o600
    entries += [
        odd,
        private,
        info("src/alias", tarfile.SYMTYPE, "run.sh"),
        info("src/hard", tarfile.LNKTYPE, "src/run.sh"),
    ]
    files.update({"src/run.sh": b"#!/bin/sh\n", "src/key.pem": b"secret"})
    repo, kit = hostile_kit(tmp_path, entries, files)
    out = tmp_path / "out"
    renames = Renames(monkeypatch)
    old_umask = os.umask(0o022)
    try:
        unpack_modelkit(repo, kit, out, include_kitfile=False)
    finally:
        os.umask(old_umask)
    assert len(renames.calls) == 1, renames.calls
    src, dst = renames.calls[0]
    assert dst == str(out / "src") and os.path.basename(src).startswith(".src.kit-partial-")
    for name, data in files.items():
        assert (out / name).read_bytes() == data
    assert os.stat(out / "src" / "run.sh").st_mode & 0o777 == 0o777
    assert os.stat(out / "src" / "key.pem").st_mode & 0o777 == 0o600
    assert os.readlink(out / "src" / "alias") == "run.sh"
    assert os.stat(out / "src" / "hard").st_ino == os.stat(out / "src" / "run.sh").st_ino
    assert not [n for n in os.listdir(out) if ".kit-partial-" in n]


def test_a_layer_path_already_on_disk_gets_a_temporary_name_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"src/f{i}.txt": b"x" for i in range(5)}
    repo, kit = hostile_kit(tmp_path, [info(n) for n in files], files)
    out = tmp_path / "out"
    (out / "src").mkdir(parents=True)
    (out / "src" / "mine.txt").write_text("kept")
    renames = Renames(monkeypatch)
    unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert sorted(dst for _src, dst in renames.calls) == sorted(str(out / n) for n in files)
    assert (out / "src" / "mine.txt").read_text() == "kept"


def test_a_failed_staged_layer_leaves_nothing_behind(tmp_path: Path) -> None:
    """The conflict is found after half the layer is on disk under the staging name."""
    entries = [info(f"src/f{i}") for i in range(20)] + [info("src/f3", tarfile.SYMTYPE, "f1")]
    repo, kit = hostile_kit(tmp_path, entries, {f"src/f{i}": b"data" for i in range(20)})
    out = tmp_path / "out"
    with pytest.raises(FormatError, match="conflicts with an earlier entry"):
        unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert everything_below(out) == []


def test_a_staged_layer_with_a_bad_digest_leaves_nothing_behind(tmp_path: Path) -> None:
    files = {f"src/f{i}": os.urandom(3000) for i in range(20)}
    repo, kit = hostile_kit(tmp_path, [info(n) for n in files], files)
    layer = kit.manifest.layers[0]
    blob = LocalStore(tmp_path / "storage").blob_path(layer.digest)
    data = bytearray(blob.read_bytes())
    data[1024 + 700] ^= 0xFF  # inside the first file's content: the tar still parses
    os.chmod(blob, 0o644)
    blob.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(IntegrityError, match="does not match"):
        unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert everything_below(out) == []


def test_a_staging_directory_left_by_a_killed_unpack_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stale = out / f".src.kit-partial-{dead_pid()}-4"
    (stale / "deep").mkdir(parents=True)
    (stale / "deep" / "half.bin").write_bytes(b"half")
    alive = out / f".src.kit-partial-{os.getppid()}-5"  # another process may still be writing it
    alive.mkdir()
    repo, kit = hostile_kit(tmp_path, [info("src/a.txt")], {"src/a.txt": b"whole"})
    unpack_modelkit(repo, kit, out, include_kitfile=False)
    assert (out / "src" / "a.txt").read_bytes() == b"whole"
    assert not stale.exists() and alive.exists()


def test_layers_that_share_a_path_are_not_staged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model in model/ and a part inside model/: each file is renamed on its own, and both land."""
    ctx = tmp_path / "ctx"
    (ctx / "model" / "parts").mkdir(parents=True)
    (ctx / "model" / "weights.bin").write_bytes(b"w" * 1000)
    (ctx / "model" / "parts" / "p.bin").write_bytes(b"p" * 1000)
    (ctx / "code").mkdir()
    (ctx / "code" / "a.py").write_text("print(1)\n")
    (ctx / "Kitfile").write_text(
        "manifestVersion: 1.0.0\nmodel:\n  path: model\n  parts:\n    - path: model/parts\ncode:\n  - path: code\n"
    )
    home = tmp_path / "home"
    api.pack(ctx, tag="shared:v1", home=home)
    renames = Renames(monkeypatch)
    out = tmp_path / "out"
    api.unpack("shared:v1", target_dir=out, home=home)
    assert (out / "model" / "weights.bin").read_bytes() == b"w" * 1000
    assert (out / "model" / "parts" / "p.bin").read_bytes() == b"p" * 1000
    assert (out / "code" / "a.py").read_text() == "print(1)\n"
    staged = [
        dst for _src, dst in renames.calls if ".kit-partial-" in os.path.basename(_src) and os.path.isdir(dst)
    ]
    assert staged == [str(out / "code")]  # only the layer with a path of its own
