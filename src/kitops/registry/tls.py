"""TLS settings for registry connections: verified by default, CA bundle loaded only when used."""

from __future__ import annotations

import os
import socket
import ssl
import sys
import threading
from dataclasses import dataclass
from typing import Any

from kitops.errors import UsageError


class DeferredTrustContext(ssl.SSLContext):
    """``ssl.create_default_context()``'s client settings, with the CA certificates (the
    system's, or ``SSL_CERT_FILE``'s) loaded at the first handshake instead of when the
    context is made.

    Parsing a CA bundle took about 40 ms of every command's start-up, and a plain-HTTP
    registry (loopback, ``--plain-http``) may never shake hands at all. The bundle is
    still loaded before any handshake can start: verification is never skipped, only
    deferred. An explicit ``--ca-file`` is read at once, so a bad one fails before any
    transfer.
    """

    _trust_lock = threading.Lock()
    _trust_loaded = False
    _cafile: str | None = None

    @classmethod
    def create(cls, cafile: str | None = None) -> DeferredTrustContext:
        ctx = cls(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname, as create_default_context
        ctx._cafile = cafile
        if sys.version_info >= (3, 13):  # pragma: no cover - what 3.13's create_default_context adds
            ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
        keylog = os.environ.get("SSLKEYLOGFILE")
        if keylog and not sys.flags.ignore_environment:
            ctx.keylog_filename = keylog
        return ctx

    def _load_trust(self) -> None:
        if self._trust_loaded:
            return
        with self._trust_lock:
            if not self._trust_loaded:
                if self._cafile is not None:
                    self.load_verify_locations(cafile=self._cafile)
                else:
                    self.load_default_certs(ssl.Purpose.SERVER_AUTH)
                self._trust_loaded = True

    def wrap_socket(self, sock: socket.socket, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._load_trust()
        return super().wrap_socket(sock, *args, **kwargs)

    def wrap_bio(
        self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, *args: Any, **kwargs: Any
    ) -> ssl.SSLObject:
        self._load_trust()
        return super().wrap_bio(incoming, outgoing, *args, **kwargs)


@dataclass
class TLSOptions:
    tls_verify: bool = True
    ca_file: str | None = None
    cert: str | None = None
    key: str | None = None

    def ssl_context(self) -> ssl.SSLContext:
        cert = os.environ.get("KITOPS_CLIENT_CERT") or self.cert
        key = os.environ.get("KITOPS_CLIENT_KEY") or self.key
        ctx: ssl.SSLContext
        if not self.tls_verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            env_cafile = os.environ.get("SSL_CERT_FILE") or None
            if self.ca_file:
                try:
                    ctx = ssl.create_default_context(cafile=self.ca_file)
                except (OSError, ssl.SSLError) as exc:
                    raise UsageError(
                        f"cannot read CA file {self.ca_file}: {exc}", hint="check --ca-file"
                    ) from None
            else:
                if env_cafile is not None and not os.access(env_cafile, os.R_OK):
                    raise UsageError(
                        f"cannot read CA file {env_cafile} (from SSL_CERT_FILE)",
                        hint="fix or unset SSL_CERT_FILE",
                    )
                ctx = DeferredTrustContext.create(env_cafile)
        if cert and key:
            try:
                ctx.load_cert_chain(cert, key)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(
                    f"failed to read certificate: {exc}", hint="check --cert and --key"
                ) from None
        return ctx
