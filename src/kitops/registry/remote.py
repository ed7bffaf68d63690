"""Building remote repositories from references and network options."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from kitops.errors import UsageError
from kitops.oci.reference import Reference
from kitops.registry.client import CredentialLookup, RegistryClient
from kitops.registry.credentials import CredentialStore
from kitops.registry.repository import BlobLocations, RemoteRepository
from kitops.registry.tls import TLSOptions
from kitops.registry.upload import UploadOptions


@dataclass
class NetworkOptions:
    """The network flags every remote command accepts, as one value."""

    plain_http: bool | None = None
    tls_verify: bool = True
    ca_file: str | None = None
    cert: str | None = None
    key: str | None = None
    proxy: str | None = None
    concurrency: int = 5
    upload_mode: str = "auto"
    chunk_size: int | None = None
    transport: httpx.BaseTransport | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise UsageError(f"invalid argument for concurrency ({self.concurrency}): must be at least 1")


class Remotes:
    """One client per registry host, so tokens and connections are shared between repositories."""

    def __init__(self, home: Path, options: NetworkOptions | None = None) -> None:
        self.home = home
        self.options = options or NetworkOptions()
        self.credentials = CredentialStore(home)
        self.locations = BlobLocations(home / "cache" / "blob-locations.json")
        self._clients: dict[str, RegistryClient] = {}
        self._extra: list[RegistryClient] = []

    def client(self, registry: str, *, credentials: CredentialLookup | None = None) -> RegistryClient:
        """The shared client for ``registry``; with ``credentials``, a separate client that uses
        only those (``kit login`` validates new credentials without touching the stored ones)."""
        if credentials is not None or registry not in self._clients:
            o = self.options
            client = RegistryClient(
                registry,
                plain_http=o.plain_http,
                tls=TLSOptions(o.tls_verify, o.ca_file, o.cert, o.key),
                proxy=o.proxy,
                credentials=credentials or self.credentials.get,
                transport=o.transport,
                concurrency=o.concurrency,
            )
            if credentials is not None:
                self._extra.append(client)
                return client
            self._clients[registry] = client
        return self._clients[registry]

    def repository(self, ref: Reference) -> RemoteRepository:
        upload = UploadOptions(
            self.options.upload_mode, self.options.chunk_size, self.home / "cache" / "uploads"
        )
        return RemoteRepository(
            self.client(ref.registry), ref.repository, upload=upload, locations=self.locations
        )

    def close(self) -> None:
        self.locations.save()
        for c in [*self._clients.values(), *self._extra]:
            c.close()
        self._clients.clear()
        self._extra.clear()

    def __enter__(self) -> Remotes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
