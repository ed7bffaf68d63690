"""Plain one-pass stdlib baselines for bench/run.py (only with ``--stdlib``): tarfile + sha256 +
write per layer, the reverse, and a registry pull (urllib GET + sha256 + write per blob).

    baseline.py pack PROJECT OUTDIR PATH...     one tar per PATH (as kit packs a layer per entry)
    baseline.py unpack TARGET DIGEST=BLOB...    hash and extract each blob in one pass, check it
    baseline.py pull BASE_URL OUTDIR DIGEST...  GET, hash and write each blob in one pass, check it
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import urllib.request

BUF = 1 << 20


class HashingWriter:
    def __init__(self, fh: object) -> None:
        self.fh = fh
        self.h = hashlib.sha256()

    def write(self, b: bytes) -> int:
        self.h.update(b)
        return self.fh.write(b)  # type: ignore[attr-defined, no-any-return]


def pack(project: str, outdir: str, *paths: str) -> None:
    os.makedirs(outdir, exist_ok=True)
    tarfile.RECORDSIZE = BUF
    for i, layer in enumerate(paths):
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


def unpack(target: str, *blobs: str) -> None:
    os.makedirs(target, exist_ok=True)
    for spec in blobs:
        digest, path = spec.split("=", 1)
        with open(path, "rb") as fh:
            hr = HashingReader(fh)
            with tarfile.open(fileobj=hr, mode="r|", bufsize=BUF) as tf:  # type: ignore[call-overload]
                kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tf.extractall(target, **kwargs)
            while hr.read(BUF):
                pass
        if "sha256:" + hr.h.hexdigest() != digest:
            raise SystemExit(f"digest mismatch for {path}")


def pull(base_url: str, outdir: str, *digests: str) -> None:
    """GET each blob with urllib, hash it and write it in one pass, then check the digest."""
    os.makedirs(outdir, exist_ok=True)
    buf = bytearray(BUF)
    view = memoryview(buf)
    for digest in digests:
        h = hashlib.sha256()
        with (
            urllib.request.urlopen(f"{base_url}/blobs/{digest}") as resp,
            open(os.path.join(outdir, digest.split(":")[1]), "wb") as out,
        ):
            while n := resp.readinto(buf):
                h.update(view[:n])
                out.write(view[:n])
        if "sha256:" + h.hexdigest() != digest:
            raise SystemExit(f"digest mismatch for {digest}")


if __name__ == "__main__":
    {"pack": pack, "unpack": unpack, "pull": pull}[sys.argv[1]](*sys.argv[2:])
