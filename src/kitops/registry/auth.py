"""Registry authentication: WWW-Authenticate challenges, Basic, and the Bearer token flow.

Tokens are cached per (realm, service, scope set) and refreshed on any 401. Secrets
never reach logs: see :func:`redact`.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_PARAM_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')
SECRET_QUERY_RE = re.compile(
    r"((?:token|access_token|password|refresh_token|X-Amz-[\w-]+|sig|signature)=)[^&\s]+", re.I
)


@dataclass(frozen=True)
class Credential:
    username: str = ""
    password: str = ""
    identity_token: str = ""  # OAuth2 refresh token
    registry_token: str = ""  # a bearer token to use as is

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def __repr__(self) -> str:  # never print secrets
        return f"Credential(username={self.username!r}, secret={'***' if not self.empty else ''})"


@dataclass(frozen=True)
class Challenge:
    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(header: str) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` (one or several challenges)."""
    out: list[Challenge] = []
    for m in re.finditer(r"(Basic|Bearer)\b([^A-Z]*(?:(?!\b(?:Basic|Bearer)\b).)*)", header, re.I | re.S):
        scheme = m.group(1).lower()
        params = {}
        for pm in _PARAM_RE.finditer(m.group(2)):
            params[pm.group(1).lower()] = pm.group(2) if pm.group(2) is not None else pm.group(3)
        out.append(Challenge(scheme, params))
    return out


def merge_scopes(*scopes: str) -> str:
    """Merge ``repository:name:actions`` scopes (space separated), uniting actions per resource."""
    by_resource: dict[str, list[str]] = {}
    for scope in scopes:
        for item in scope.split():
            if item.count(":") < 2:
                by_resource.setdefault(item, [])
                continue
            resource, _, actions = item.rpartition(":")
            acts = by_resource.setdefault(resource, [])
            for a in actions.split(","):
                if a and a not in acts:
                    acts.append(a)
    return " ".join(f"{r}:{','.join(sorted(a))}" if a else r for r, a in sorted(by_resource.items()))


@dataclass
class _Token:
    value: str
    expires_at: float


class TokenCache:
    """Bearer tokens per (realm, service, scope); thread-safe; expired entries are ignored.

    Lifetimes are measured on ``clock`` (seconds, monotonic): tests pass a fake one to age tokens
    without waiting.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._lock = threading.Lock()

    def get(self, realm: str, service: str, scope: str) -> str | None:
        with self._lock:
            tok = self._tokens.get((realm, service, scope))
        if tok is None or tok.expires_at <= self._clock():
            return None
        return tok.value

    def put(self, realm: str, service: str, scope: str, value: str, expires_in: float) -> None:
        with self._lock:
            self._tokens[(realm, service, scope)] = _Token(value, self._clock() + max(expires_in - 10, 1))

    def drop(self, realm: str, service: str, scope: str) -> None:
        with self._lock:
            self._tokens.pop((realm, service, scope), None)


def redact_url(url: str) -> str:
    """A URL fit for logs and error messages: no userinfo, no secret query values."""
    parts = urlsplit(str(url))
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = SECRET_QUERY_RE.sub(r"\1***", parts.query)
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
