"""The network keywords of every function that talks to a registry, named once.

``kitops.pull(ref, plain_http=True, concurrency=2)``: the functions of :mod:`kitops.api` (and
the integrations built on them) take these as ``**net: Unpack[NetworkKeywords]``, so the set of
keywords, their types and their meaning live here alone, a type checker still checks each keyword
at the call site, and :func:`build_network` is the one place they become the
:class:`~kitops.registry.remote.NetworkOptions` the registry client is made from.

Nothing here imports the HTTP stack: a function that may stay local (``unpack`` of a stored
ModelKit) checks its keywords at once but builds the options only when it asks a registry.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypedDict, TypeVar

if TYPE_CHECKING:
    from kitops.registry.remote import NetworkOptions

_T = TypeVar("_T")


class NetworkFlags(TypedDict, total=False):
    """The ``kit`` CLI's network flags as keywords. A key left out, or given its default, leaves
    the setting as it is (the default, or the field of ``network=``)."""

    # None (default): plain HTTP only for loopback registries (localhost, 127.0.0.1), else HTTPS
    plain_http: bool | None
    # default True; False accepts any server certificate
    tls_verify: bool
    # an extra CA bundle (PEM) to trust
    ca_file: str | os.PathLike[str] | None
    # client certificate (PEM) for mutual TLS, and its private key
    cert: str | os.PathLike[str] | None
    key: str | os.PathLike[str] | None
    # proxy URL (http://host:port); None (default): the environment's (HTTPS_PROXY, NO_PROXY)
    proxy: str | None
    # blobs transferred in parallel; default 5; below 1 is a UsageError
    concurrency: int
    # blob uploads: "auto" (default: by size and registry, with fallback), "monolithic" or "chunked"
    upload_mode: str
    # bytes per chunk of a chunked upload; None (default): the registry's minimum or ours
    chunk_size: int | None


class NetworkKeywords(NetworkFlags, total=False):
    """:class:`NetworkFlags` plus ``network``: a ready ``NetworkOptions`` (for instance with an
    ``httpx`` transport injected) whose fields the flags given with a non-default value override."""

    network: NetworkOptions | None


NETWORK_KEYWORDS: frozenset[str] = NetworkKeywords.__optional_keys__


def check_keywords(function: str, given: Mapping[str, object]) -> None:
    """Refuse a keyword that is no network option, as Python refuses one a signature lacks:
    ``**net`` would otherwise swallow a misspelt ``plain_htp=True`` without a word."""
    for name in given:
        if name not in NETWORK_KEYWORDS:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")


def build_network(function: str, keywords: NetworkKeywords) -> NetworkOptions:
    """The ``NetworkOptions`` the keywords of a call to ``function`` describe.

    ``network`` is the base (default: all defaults); each flag given with a value other than its
    default replaces the matching field, so ``network=`` plus ``concurrency=2`` does what it says,
    while a caller that forwards every flag, defaults included, keeps the base's fields. The
    defaults are the dataclass's own; fields the flags do not name (``transport``) are kept.
    ``concurrency`` below 1 is a ``UsageError`` (the dataclass checks it), not silently ignored.
    """
    check_keywords(function, keywords)
    from kitops.registry.remote import NetworkOptions

    default = NetworkOptions()
    given = keywords.get("network")
    base = default if given is None else given
    built = dataclasses.replace(
        base,
        plain_http=_pick(base.plain_http, keywords.get("plain_http", default.plain_http), default.plain_http),
        tls_verify=_pick(base.tls_verify, keywords.get("tls_verify", default.tls_verify), default.tls_verify),
        ca_file=_pick(base.ca_file, _fspath(keywords.get("ca_file")), default.ca_file),
        cert=_pick(base.cert, _fspath(keywords.get("cert")), default.cert),
        key=_pick(base.key, _fspath(keywords.get("key")), default.key),
        proxy=_pick(base.proxy, keywords.get("proxy", default.proxy), default.proxy),
        concurrency=_pick(
            base.concurrency, keywords.get("concurrency", default.concurrency), default.concurrency
        ),
        upload_mode=_pick(
            base.upload_mode, keywords.get("upload_mode", default.upload_mode), default.upload_mode
        ),
        chunk_size=_pick(base.chunk_size, keywords.get("chunk_size", default.chunk_size), default.chunk_size),
    )
    # Nothing changed: the caller's own object, so options built once and passed on stay one object.
    return given if given is not None and built == given else built


def _pick(current: _T, value: _T, default: _T) -> _T:
    return current if value == default else value


def _fspath(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)
