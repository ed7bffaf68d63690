"""Stores: one protocol for the local OCI layout, memory and remote repositories."""

from kitops.store.base import (
    BLOB_BUFFER,
    ReadableStore,
    Store,
    VerifyingReader,
    copy_stream,
    read_blob_bytes,
)

__all__ = [
    "BLOB_BUFFER",
    "ReadableStore",
    "Store",
    "VerifyingReader",
    "copy_stream",
    "read_blob_bytes",
]
