"""Content digests (``sha256:<hex>``) and the hashing helpers every byte stream passes through."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from kitops.errors import UsageError

# go-digest's grammar. Always ``fullmatch``: Python's ``$`` also matches before a final newline.
_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_HEX_LEN = {"sha256": 64, "sha512": 128}
_MAX_DIGEST_LENGTH = len("sha512:") + 128


@dataclass(frozen=True, order=True)
class Digest:
    """A validated content digest; ``str(d)`` is the canonical ``algo:hex`` form."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        if not is_digest(text):
            shown = repr(text[:80]) + ("..." if len(text) > 80 else "")
            raise UsageError(f"invalid digest {shown}", hint="a digest looks like sha256:<64 hex characters>")
        algo, _, hexpart = text.partition(":")
        return cls(algo, hexpart)

    @classmethod
    def from_bytes(cls, data: bytes) -> Digest:
        return cls("sha256", hashlib.sha256(data).hexdigest())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    def new_hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)


def is_digest(text: str) -> bool:
    """go-digest validation: known algorithms need lower-case hex of the right length."""
    if not isinstance(text, str) or len(text) > _MAX_DIGEST_LENGTH or not _DIGEST_RE.fullmatch(text):
        return False
    algo, _, hexpart = text.partition(":")
    want = _HEX_LEN.get(algo)
    if want is None:
        return False
    return len(hexpart) == want and all(c in "0123456789abcdef" for c in hexpart)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
