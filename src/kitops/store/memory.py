"""An in-memory store: the reference implementation of the store protocol, for tests and staging."""

from __future__ import annotations

import io
import threading
from typing import BinaryIO

from kitops.errors import NotFoundError
from kitops.oci.digest import is_digest
from kitops.oci.models import Descriptor
from kitops.store.base import VerifyingReader, copy_stream


class MemoryStore:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._manifests: dict[str, Descriptor] = {}
        self._tags: dict[str, Descriptor] = {}
        self._lock = threading.Lock()

    def resolve(self, ref: str) -> Descriptor:
        with self._lock:
            desc = self._manifests.get(ref) if is_digest(ref) else self._tags.get(ref)
        if desc is None:
            raise NotFoundError(f"{ref} not found")
        return desc

    def fetch(self, desc: Descriptor) -> BinaryIO:
        with self._lock:
            data = self._blobs.get(desc.digest)
        if data is None:
            raise NotFoundError(f"blob {desc.digest} not found")
        return VerifyingReader(io.BytesIO(data), desc)  # type: ignore[return-value]

    def exists(self, desc: Descriptor) -> bool:
        with self._lock:
            return desc.digest in self._blobs

    def push(self, desc: Descriptor, data: BinaryIO) -> None:
        sink = io.BytesIO()
        copy_stream(VerifyingReader(data, desc), sink)  # type: ignore[arg-type]
        with self._lock:
            self._blobs[desc.digest] = sink.getvalue()
            if desc.is_manifest:
                self._manifests[desc.digest] = desc

    def tag(self, desc: Descriptor, ref: str) -> None:
        with self._lock:
            if desc.digest not in self._blobs:
                raise NotFoundError(f"manifest {desc.digest} not found")
            self._manifests[desc.digest] = desc
            self._tags[ref] = desc

    def tags(self) -> list[str]:
        with self._lock:
            return sorted(self._tags)

    def delete(self, desc: Descriptor) -> None:
        with self._lock:
            self._blobs.pop(desc.digest, None)
            self._manifests.pop(desc.digest, None)
            for t in [t for t, d in self._tags.items() if d.digest == desc.digest]:
                del self._tags[t]
