"""Unpack refuses hostile archives: traversal, absolute paths, escaping links, devices.

Each test stores a hand-made layer in a real local store (with a correct digest,
so only the path checks can stop it) and unpacks it.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from kitops.errors import IntegrityError
from kitops.kitfile.model import CodeEntry, Kitfile, LayerInfo
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
    store = LocalStore(tmp_path / "storage")
    layer = store.put_bytes(mt.layer_media_type("code"), bio.getvalue())
    kf = Kitfile(manifest_version="1.0.0", code=[CodeEntry(path="src", layer=LayerInfo(layer.digest, layer.digest))])
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
    repo, kit = hostile_kit(tmp_path, entries, {e.name: b"pwned" for e in entries if e.type == tarfile.REGTYPE})
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
    repo, kit = hostile_kit(tmp_path, [info("src", tarfile.DIRTYPE), exe, link], {"src/run.sh": b"#!/bin/sh\n"})
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
