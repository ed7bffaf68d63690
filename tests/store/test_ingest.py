"""Blobs entering the local store: a download continues the partial file a crash left, checks the
whole, retries a corrupt partial once, and keeps what it wrote when interrupted; a written blob
is hashed behind its writer once it is large."""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path
from typing import BinaryIO

import pytest

from kitops.errors import Cancelled, IntegrityError
from kitops.fsutil import lock
from kitops.oci.models import Descriptor
from kitops.store.ingest import INLINE_HASH_LIMIT
from kitops.store.layout import LocalStore

DATA = bytes(range(256)) * 4096  # 1 MiB
DESC = Descriptor("application/octet-stream", "sha256:" + hashlib.sha256(DATA).hexdigest(), len(DATA))
HEX = DESC.digest.split(":")[1]


class Source(io.RawIOBase):
    """``data`` from an offset, at most ``chunk`` bytes a read; raises ``fail`` once ``fail_after``
    bytes were read."""

    def __init__(
        self,
        data: bytes,
        *,
        chunk: int = 64 << 10,
        fail_after: int | None = None,
        fail: BaseException | None = None,
    ) -> None:
        self._data, self._pos, self._chunk = data, 0, chunk
        self._fail_after, self._fail = fail_after, fail

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._fail is not None and self._fail_after is not None and self._pos >= self._fail_after:
            raise self._fail
        n = min(len(buf), self._chunk, len(self._data) - self._pos)
        memoryview(buf)[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


class Opener:
    """``opener(offset)`` for a download, recording the offsets asked for."""

    def __init__(self, data: bytes = DATA, **source: object) -> None:
        self.data, self.source = data, source
        self.offsets: list[int] = []

    def __call__(self, offset: int) -> BinaryIO:
        self.offsets.append(offset)
        return Source(self.data[offset:], **self.source)  # type: ignore[arg-type,return-value]


@pytest.fixture()
def store(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "storage")
    store.ensure_layout()
    store.ingest_dir.mkdir()
    return store


def _partial(store: LocalStore) -> Path:
    return store.ingest_dir / HEX


def _assert_stored(store: LocalStore) -> None:
    assert store.blob_path(DESC.digest).read_bytes() == DATA
    assert list(store.ingest_dir.iterdir()) == []


def test_a_partial_download_is_continued_from_its_end(store: LocalStore) -> None:
    _partial(store).write_bytes(DATA[:300_000])
    opener = Opener()
    store.ingest_resumable(DESC, opener)
    assert opener.offsets == [300_000]
    _assert_stored(store)


def test_a_corrupt_partial_is_found_with_the_rest_and_the_blob_downloaded_again(store: LocalStore) -> None:
    _partial(store).write_bytes(b"\0" * 300_000)
    opener = Opener()
    store.ingest_resumable(DESC, opener)
    assert opener.offsets == [300_000, 0]
    _assert_stored(store)


def test_a_partial_longer_than_the_blob_is_emptied_first(store: LocalStore) -> None:
    _partial(store).write_bytes(DATA + b"trailing junk")
    opener = Opener()
    store.ingest_resumable(DESC, opener)
    assert opener.offsets == [0]
    _assert_stored(store)


def test_an_interrupted_download_keeps_what_it_wrote_for_the_next_run(store: LocalStore) -> None:
    with pytest.raises(Cancelled):
        store.ingest_resumable(DESC, Opener(fail_after=512 << 10, fail=Cancelled("stop")))
    assert _partial(store).read_bytes() == DATA[: 512 << 10]
    assert not store.has_blob(DESC.digest)
    opener = Opener()
    store.ingest_resumable(DESC, opener)
    assert opener.offsets == [512 << 10]
    _assert_stored(store)


def test_a_source_that_keeps_sending_wrong_bytes_fails_after_one_retry(store: LocalStore) -> None:
    opener = Opener(bytes(len(DATA)))
    with pytest.raises(IntegrityError, match="downloaded content does not match its digest") as info:
        store.ingest_resumable(DESC, opener)
    assert info.value.hint == "the registry serves corrupt data for this blob"
    assert opener.offsets == [0, 0]
    assert not store.has_blob(DESC.digest)
    assert list(store.ingest_dir.iterdir()) == []


def test_a_source_that_ends_early_fails_with_the_count(store: LocalStore) -> None:
    with pytest.raises(IntegrityError, match=rf"got {len(DATA) - 10} bytes, expected {len(DATA)}") as info:
        store.ingest_resumable(DESC, Opener(DATA[:-10]))
    assert info.value.hint == "re-run to resume"
    assert not store.has_blob(DESC.digest)


def test_a_source_lending_its_buffers_is_written_from_them(store: LocalStore) -> None:
    """A registry body hands out the bytes it received (``readview``) instead of copying them."""

    class Lender:
        def __init__(self, data: bytes) -> None:
            self._view, self.closed = memoryview(data), False

        def readview(self) -> memoryview:
            piece, self._view = self._view[:100_000], self._view[100_000:]
            return piece

        def close(self) -> None:
            self.closed = True

    lenders: list[Lender] = []

    def opener(offset: int) -> Lender:
        lenders.append(Lender(DATA[offset:]))
        return lenders[-1]

    store.ingest_resumable(DESC, opener)  # type: ignore[arg-type]
    assert len(lenders) == 1 and lenders[0].closed
    _assert_stored(store)


def test_a_download_that_waited_for_another_process_finds_the_blob_stored(store: LocalStore) -> None:
    """Two pulls of one blob: the second waits for the lock on the partial file, then sees the
    first has stored the blob and downloads nothing."""
    opener = Opener()
    with open(_partial(store), "wb") as other:  # the other process' download
        assert lock(other)
        waiting = threading.Thread(target=store.ingest_resumable, args=(DESC, opener))
        waiting.start()
        waiting.join(0.3)
        assert waiting.is_alive()  # blocked on the lock
        store.put_blob(DESC, io.BytesIO(DATA))
    waiting.join(10)
    assert not waiting.is_alive()
    assert opener.offsets == []
    assert store.blob_path(DESC.digest).read_bytes() == DATA


def test_a_large_written_blob_is_hashed_behind_the_writer_and_checked(store: LocalStore) -> None:
    data = DATA * (INLINE_HASH_LIMIT // len(DATA) + 2)  # crosses the inline limit
    want = Descriptor("application/octet-stream", "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    with store.blob_writer() as writer:
        for i in range(0, len(data), 1 << 20):
            writer.write(data[i : i + (1 << 20)])
        assert writer.commit(want.media_type, expected=want) == want
    assert store.blob_path(want.digest).read_bytes() == data
    wrong = Descriptor(want.media_type, DESC.digest, len(data))
    with store.blob_writer() as writer:
        writer.write(data)
        with pytest.raises(IntegrityError, match=f"got {want.digest}"):
            writer.commit(want.media_type, expected=wrong)
    assert not store.has_blob(DESC.digest)
    assert list(store.ingest_dir.iterdir()) == []


def test_chunks_are_hashed_from_the_callers_buffer_even_when_it_is_reused_at_once(
    store: LocalStore, tmp_path: Path
) -> None:
    """Large chunks are hashed beside their write (a second thread) and small ones inline; a
    writer that reuses its one buffer right after each write (as the download and tar loops do)
    still gets the digest of what it wrote, also when a kernel copy (sendfile) follows."""
    parts = [DATA[:1000], DATA, DATA[:200_000], bytes(reversed(DATA)), DATA[5:70_000]]
    tail = tmp_path / "tail.bin"
    tail.write_bytes(DATA * 3)
    expected = b"".join(parts) + tail.read_bytes()
    want = Descriptor(
        "application/octet-stream", "sha256:" + hashlib.sha256(expected).hexdigest(), len(expected)
    )
    buf = bytearray(len(DATA))
    with store.blob_writer() as writer:
        for part in parts:
            buf[: len(part)] = part
            writer.write(memoryview(buf)[: len(part)])
            buf[:] = b"\xff" * len(buf)  # reused at once: the hash must not see this
        with open(tail, "rb") as fh:
            copied = 0
            while copied < len(DATA) * 3:
                copied += writer.receive_from(fh.fileno(), len(DATA) * 3 - copied)
        writer.write(b"")
        assert writer.commit(want.media_type, expected=want) == want
    assert store.blob_path(want.digest).read_bytes() == expected
