"""Layer compression codecs: fast writers (isal gzip, multithreaded zstd), tolerant readers.

Writers are deterministic for the same input whatever the number of threads, so
repacking gives the same digests on any machine. Readers accept any valid gzip
(multi-member included) or zstd (multi-frame) stream, whoever wrote it.
"""

from __future__ import annotations

import os
from typing import BinaryIO, Protocol

from kitops.errors import FormatError, UsageError
from kitops.oci.mediatypes import COMPRESSIONS


class _Writable(Protocol):
    def write(self, data: bytes | bytearray | memoryview, /) -> int | None: ...


def check_compression(name: str) -> str:
    if name not in COMPRESSIONS:
        raise UsageError(
            f"invalid compression type {name!r}: must be one of 'none', 'gzip', 'gzip-fastest' or 'zstd'",
            hint="use --compression none (default, byte-compatible with the Go kit), gzip, gzip-fastest or zstd",
        )
    return name


ZSTD_JOB_SIZE = 1 << 20
GZIP_LEVEL = 2  # ISA-L levels: 0 (fixed Huffman, no stored blocks: never use), 1, 2, 3
GZIP_FASTEST_LEVEL = 1


class CompressingSink:
    """A write-only stream that compresses into ``dest``; ``close`` flushes but never closes ``dest``."""

    def __init__(self, compression: str, dest: _Writable) -> None:
        self._dest = dest
        self._zstd = compression == "zstd"
        self._written = 0
        threads = max(1, os.cpu_count() or 1)
        self._writer: BinaryIO
        if compression in ("gzip", "gzip-fastest"):
            from isal import igzip_threaded

            # ISA-L level 0 codes everything with one fixed Huffman table and never falls back to
            # stored blocks: random data (most model weights) grew by 23 %, and it was also slower
            # than level 1 there (~470 vs ~1300 MB/s on 100 MiB). Level 1 builds per-block tables
            # and stores incompressible blocks (+0.01 %); it is what Go's BestSpeed corresponds to.
            level = GZIP_FASTEST_LEVEL if compression == "gzip-fastest" else GZIP_LEVEL
            self._writer = igzip_threaded.open(  # type: ignore[no-untyped-call]
                _NoClose(dest), "wb", compresslevel=level, threads=threads
            )
        elif compression == "zstd":
            import zstandard

            # 1 MiB jobs: zstd's default for level 3 held ~120 MiB per layer being packed (three
            # layers pack at once), for no gain in speed; output does not depend on the thread count
            params = zstandard.ZstdCompressionParameters.from_level(
                3, threads=threads, job_size=ZSTD_JOB_SIZE
            )
            cctx = zstandard.ZstdCompressor(compression_params=params)
            self._writer = cctx.stream_writer(dest, closefd=False)  # type: ignore[arg-type]
        else:  # pragma: no cover - guarded by check_compression
            raise UsageError(f"unsupported compression {compression}")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._writer.write(data)
        n = data.nbytes if isinstance(data, memoryview) else len(data)
        self._written += n
        return n

    def close(self) -> None:
        if self._zstd and self._written and self._written % ZSTD_JOB_SIZE == 0:
            # The last job is exactly full. zstd's worker pool starts it during a write when a
            # job slot is free (then the frame ends with an extra empty block), or only at the
            # end of the frame when all slots were busy (then it is the last block itself): the
            # output, and so the layer digest, depended on thread timing. A block flush first
            # makes the first case certain.
            import zstandard

            self._writer.flush(zstandard.FLUSH_BLOCK)  # type: ignore[call-arg]
        self._writer.close()


class _NoClose:
    """Lets a codec 'close' its output without closing our blob writer."""

    def __init__(self, dest: _Writable) -> None:
        self._dest = dest

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._dest.write(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def decompression_errors() -> tuple[type[BaseException], ...]:
    """Exception types the codecs raise for corrupt input (not for I/O problems of ours)."""
    import gzip

    import zstandard
    from isal import isal_zlib

    zlib_error: type[BaseException] = isal_zlib.error  # type: ignore[assignment]
    return (gzip.BadGzipFile, zlib_error, zstandard.ZstdError, EOFError)


def open_decompressed(raw: BinaryIO, compression: str) -> BinaryIO:
    """A readable stream of the uncompressed bytes of ``raw`` (not closed with it)."""
    if compression == "none":
        return raw
    if compression == "gzip":
        from isal import igzip

        return igzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[no-untyped-call, return-value]
    if compression == "zstd":
        import zstandard

        dctx = zstandard.ZstdDecompressor()
        return dctx.stream_reader(raw, read_size=1 << 20, read_across_frames=True, closefd=False)
    raise FormatError(
        f"unsupported layer compression '+{compression}'", hint="this ModelKit was written by a newer tool"
    )
