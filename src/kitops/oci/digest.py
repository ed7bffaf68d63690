"""Content digests (``sha256:<hex>``) and the hashing helpers every byte stream passes through."""

from __future__ import annotations

import hashlib
import re

# go-digest's grammar. Always ``fullmatch``: Python's ``$`` also matches before a final newline.
_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_HEX_LEN = {"sha256": 64, "sha512": 128}
_MAX_DIGEST_LENGTH = len("sha512:") + 128


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
