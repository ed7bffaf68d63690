"""Large files move between files inside the kernel (sendfile) on pack and on unpack of an
uncompressed layer: the same bytes and digests as the buffered copy, verified all the same, and
a kernel that refuses the copy is met with the buffered copy instead of an error."""

from __future__ import annotations

import errno
import hashlib
import os
import sys
from pathlib import Path

import pytest

from kitops import api
from kitops.errors import IntegrityError
from kitops.modelkit import tar
from kitops.store.layout import LocalStore

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="file-to-file sendfile is Linux only"
)
MiB = 1 << 20


class SendfileSpy:
    """Counts os.sendfile calls (and bytes); can make them fail as a kernel without support would."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail: int | None = None) -> None:
        self.calls = 0
        self.bytes = 0
        real = os.sendfile

        def spy(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
            self.calls += 1
            if fail is not None:
                raise OSError(fail, os.strerror(fail))
            n = real(out_fd, in_fd, offset, count)
            self.bytes += n
            return n

        monkeypatch.setattr(os, "sendfile", spy)


def project(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    files = {
        "model/weights.bin": os.urandom(9 * MiB + 123),  # past KERNEL_COPY_MIN and the inline-hash limit
        "model/small.json": b'{"a": 1}',
        "data/rows.csv": os.urandom(2 * MiB),
    }
    ctx = tmp_path / "ctx"
    for name, data in files.items():
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx / name).write_bytes(data)
    (ctx / "Kitfile").write_text(
        "manifestVersion: 1.0.0\nmodel:\n  path: model\ndatasets:\n  - name: d\n    path: data\n"
    )
    return ctx, files


def pack_digests(ctx: Path, home: Path) -> list[str]:
    return [layer.digest for layer in api.pack(ctx, tag="k:v1", home=home).manifest.layers]


def test_pack_copies_in_the_kernel_and_makes_the_same_layers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, _files = project(tmp_path)
    monkeypatch.setattr(tar, "KERNEL_COPY", False)
    buffered = pack_digests(ctx, tmp_path / "h1")
    monkeypatch.setattr(tar, "KERNEL_COPY", True)
    spy = SendfileSpy(monkeypatch)
    kernel = pack_digests(ctx, tmp_path / "h2")
    assert kernel == buffered
    assert spy.bytes >= 11 * MiB  # both large files went through sendfile
    store = LocalStore(tmp_path / "h2" / "storage")
    for digest in kernel:  # every stored blob hashes to its name
        assert "sha256:" + hashlib.sha256(store.blob_path(digest).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOSYS, errno.EXDEV])
def test_pack_falls_back_to_a_buffered_copy_when_the_kernel_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    ctx, _files = project(tmp_path)
    monkeypatch.setattr(tar, "KERNEL_COPY", False)
    buffered = pack_digests(ctx, tmp_path / "h1")
    monkeypatch.setattr(tar, "KERNEL_COPY", True)
    spy = SendfileSpy(monkeypatch, fail=code)
    assert pack_digests(ctx, tmp_path / "h2") == buffered
    assert spy.calls >= 1


def test_unpack_copies_in_the_kernel_and_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, files = project(tmp_path)
    home = tmp_path / "home"
    pack_digests(ctx, home)
    spy = SendfileSpy(monkeypatch)
    out = tmp_path / "out"
    api.unpack("k:v1", target_dir=out, home=home)
    for name, data in files.items():
        assert (out / name).read_bytes() == data
    assert spy.bytes >= 9 * MiB  # the big layer's file went through sendfile


def test_unpack_by_kernel_copy_still_refuses_a_corrupt_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, _files = project(tmp_path)
    home = tmp_path / "home"
    model_layer = api.pack(ctx, tag="k:v1", home=home).manifest.layers[0]
    blob = LocalStore(home / "storage").blob_path(model_layer.digest)
    data = bytearray(blob.read_bytes())
    data[5 * MiB] ^= 0x01  # inside weights.bin: the archive still parses
    os.chmod(blob, 0o644)
    blob.write_bytes(bytes(data))
    spy = SendfileSpy(monkeypatch)
    out = tmp_path / "out"
    with pytest.raises(IntegrityError, match="does not match its digest"):
        api.unpack("k:v1", target_dir=out, home=home, filters=["model"])
    assert spy.bytes >= 9 * MiB
    assert not (out / "model").exists()
    assert not [p for p in out.rglob("*") if ".kit-partial-" in p.name]


def test_unpack_falls_back_to_a_buffered_copy_when_the_kernel_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, files = project(tmp_path)
    home = tmp_path / "home"
    pack_digests(ctx, home)
    spy = SendfileSpy(monkeypatch, fail=errno.EINVAL)
    out = tmp_path / "out"
    api.unpack("k:v1", target_dir=out, home=home)
    assert spy.calls >= 1
    for name, data in files.items():
        assert (out / name).read_bytes() == data
