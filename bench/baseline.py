"""Plain one-pass stdlib baselines for bench/run.py: tarfile + sha256 + write, the reverse, and a
registry pull (urllib GET + sha256 + write per blob, one after another)."""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import urllib.request

BUF = 1 << 20
LAYERS = ["model/weights.bin", "model/shards", "data/train.csv", "src", "README.md"]


class HashingWriter:
    def __init__(self, fh: object) -> None:
        self.fh = fh
        self.h = hashlib.sha256()

    def write(self, b: bytes) -> int:
        self.h.update(b)
        return self.fh.write(b)  # type: ignore[attr-defined, no-any-return]


def pack(project: str, outdir: str) -> None:
    os.makedirs(outdir, exist_ok=True)
    tarfile.RECORDSIZE = BUF
    for i, layer in enumerate(LAYERS):
        with open(os.path.join(outdir, f"layer{i}.tar"), "wb") as fh:
            hw = HashingWriter(fh)
            with tarfile.open(fileobj=hw, mode="w|", bufsize=BUF) as tf:  # type: ignore[call-overload]
                tf.add(os.path.join(project, layer), arcname=layer)
        print(layer, "sha256:" + hw.h.hexdigest())


class HashingReader:
    def __init__(self, fh: object) -> None:
        self.fh = fh
        self.h = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        b: bytes = self.fh.read(n)  # type: ignore[attr-defined]
        self.h.update(b)
        return b


def unpack(outdir: str, target: str) -> None:
    os.makedirs(target, exist_ok=True)
    for i in range(len(LAYERS)):
        with open(os.path.join(outdir, f"layer{i}.tar"), "rb") as fh:
            hr = HashingReader(fh)
            with tarfile.open(fileobj=hr, mode="r|", bufsize=BUF) as tf:  # type: ignore[call-overload]
                kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tf.extractall(target, **kwargs)
            while hr.read(BUF):
                pass
        print(i, "sha256:" + hr.h.hexdigest())


def pull(base_url: str, outdir: str, *digests: str) -> None:
    """GET each blob with urllib, hash it and write it in one pass, then check the digest."""
    os.makedirs(outdir, exist_ok=True)
    buf = bytearray(BUF)
    view = memoryview(buf)
    for digest in digests:
        h = hashlib.sha256()
        with urllib.request.urlopen(f"{base_url}/blobs/{digest}") as resp, \
                open(os.path.join(outdir, digest.split(":")[1]), "wb") as out:
            while n := resp.readinto(buf):
                h.update(view[:n])
                out.write(view[:n])
        if "sha256:" + h.hexdigest() != digest:
            raise SystemExit(f"digest mismatch for {digest}")


if __name__ == "__main__":
    if sys.argv[1] == "pull":
        pull(sys.argv[2], sys.argv[3], *sys.argv[4:])
    else:
        {"pack": pack, "unpack": unpack}[sys.argv[1]](sys.argv[2], sys.argv[3])
