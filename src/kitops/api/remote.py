"""Registries: ``login``/``logout``, ``push``, ``pull`` and remote reads and removals."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kitops.api._common import Home, _listed_modelkit, _push_stored_parents, _remotes, local_store
from kitops.api.signing import KeySource, _public_key, _verify_before_use
from kitops.errors import FormatError, UsageError
from kitops.kitfile.model import Kitfile
from kitops.modelkit.listing import NONE, ModelKitSummary
from kitops.modelkit.read import ModelKit, load_modelkit, load_modelkit_at
from kitops.netopts import NetworkKeywords, build_network
from kitops.oci.models import Descriptor
from kitops.oci.reference import Reference, parse_reference, parse_single
from kitops.progress import Cancel, Progress
from kitops.settings import kitops_home

if TYPE_CHECKING:  # types only: httpx, the registry client and the pack/unpack code load when a command runs
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; only type checkers read it


def login(
    registry: str,
    *,
    username: str = "",
    password: str = "",
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> None:
    """Check the credentials against ``GET /v2/`` and store them (mode 0600). A password without
    a username is stored as an identity (refresh) token, as docker does."""
    from kitops.errors import AuthenticationError
    from kitops.registry.auth import Credential

    network = build_network("login", net)
    if not password:
        raise UsageError("a password is required", hint="use --password-stdin to pass it safely")
    cred = (
        Credential(username=username, password=password) if username else Credential(identity_token=password)
    )
    with _remotes(home, network) as remotes:
        client = remotes.client(registry, credentials=lambda _r: cred)  # exactly these credentials
        try:
            client.request("GET", "/v2/", scope="", expect=(200,))
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"failed to validate the credentials for {registry}: {exc.message}",
                hint="check the username and password (or token)",
            ) from None
        remotes.credentials.save(registry, Credential(username=username, password=password))


def logout(registry: str, *, home: Home = None) -> bool:
    from kitops.registry.credentials import CredentialStore

    return CredentialStore(kitops_home(home)).remove(registry)


@dataclass(frozen=True)
class TransferResult:
    reference: Reference
    descriptor: Descriptor


def push(
    source: str,
    destination: str | None = None,
    *,
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    referrers: bool = True,
    **net: Unpack[NetworkKeywords],
) -> TransferResult:
    """Copy a ModelKit (and the ModelKits its model.path references) from local storage to a registry.

    ``upload_mode`` is ``auto``, ``monolithic`` or ``chunked``; ``chunk_size`` is in bytes
    (the CLI's ``--chunk-size`` is in MiB). Its ``referrers`` in local storage (signatures,
    attestations, provenance: what names it as ``subject``, and cosign's ``sha256-<hex>.sig``,
    ``.att``, ``.sbom`` tags) go with it, before the tag is set; ``referrers=False`` leaves them.
    """
    from kitops import transfer

    network = build_network("push", net)
    src_ref = parse_single(source, what="reference")
    dst_ref = parse_single(destination or source, what="target reference")
    if dst_ref.registry == "localhost":
        raise UsageError(
            "registry is required when pushing",
            hint="name the registry: kit push my-model:v1 registry.example.com/team/my-model:v1",
        )
    store = local_store(home)
    src_repo = store.repository(src_ref.repo_key)
    kit = load_modelkit(src_repo, src_ref.reference, display=src_ref.display())
    with _remotes(home, network) as remotes:
        _push_stored_parents(
            store, kit.kitfile, src_ref, dst_ref, remotes, progress, cancel, referrers=referrers
        )
        desc = transfer.copy(
            src_repo,
            src_ref.reference,
            remotes.repository(dst_ref),
            dst_ref=dst_ref.tag,
            concurrency=remotes.options.concurrency,
            progress=progress,
            cancel=cancel,
            referrers=referrers,
        )
    return TransferResult(dst_ref, desc)


def pull(
    ref: str,
    *,
    home: Home = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    referrers: bool = True,
    verify_key: KeySource | None = None,
    **net: Unpack[NetworkKeywords],
) -> TransferResult:
    """Copy a ModelKit from a registry into local storage (verified, resumable), then its parents
    (each into its own repository, not the child's). Its ``referrers`` on the registry
    (signatures, attestations... by the referrers API or its tag-schema index, and cosign's
    ``sha256-<hex>.sig``/``.att``/``.sbom`` tags) come with it; ``referrers=False`` leaves them.
    With ``verify_key`` (a public key: path or PEM bytes) the ModelKit must carry a signature on
    the registry that key verifies before anything of it is fetched: otherwise
    :class:`~kitops.signing.errors.SignatureError` and nothing is stored."""
    from kitops import transfer
    from kitops.modelkit.references import MAX_REFERENCE_DEPTH, walk_parents

    network = build_network("pull", net)
    parsed = parse_single(ref)
    if parsed.registry == "localhost":
        raise UsageError(
            "registry is required when pulling", hint="e.g. kit pull registry.example.com/team/model:v1"
        )
    public_key = _public_key(verify_key) if verify_key is not None else None
    store = local_store(home)
    with _remotes(home, network) as remotes, store.leased():

        def fetch(current: Reference) -> tuple[Kitfile, Descriptor]:
            remote = remotes.repository(current)
            local = store.repository(current.repo_key)
            # manifest and config are checked before anything is stored: a failed pull leaves no tag
            root = remote.resolve(current.reference)
            if public_key is not None and current == parsed:  # the ModelKit named, not its parents
                _verify_before_use(remote, root, current, public_key)
            kit = load_modelkit_at(remote, root)  # any model format (Kit, ModelPack, Docker model)
            if kit.manifest.format is None:
                raise FormatError(f"reference {current} does not refer to a model")
            # the config was just read and verified: kept, the copy need not download it again
            store.put_blob(kit.manifest.config, io.BytesIO(kit.config_bytes))
            desc = transfer.copy(
                remote,
                root,  # resolved already: no second lookup
                local,
                concurrency=remotes.options.concurrency,
                progress=progress,
                cancel=cancel,
                referrers=referrers,
            )
            if current.tag:
                local.tag(desc, current.tag)
            return kit.kitfile, desc

        kitfile, first = fetch(parsed)
        # the reference's pull allows one fewer ancestor than pack and unpack
        for _parent in walk_parents(
            kitfile, parsed.display(), fetch, registry=parsed.registry, limit=MAX_REFERENCE_DEPTH - 1
        ):
            pass  # fetch stores each ancestor as the walk reaches it
    return TransferResult(parsed, first)


def list_remote(
    repository: str, *, home: Home = None, **net: Unpack[NetworkKeywords]
) -> list[ModelKitSummary]:
    """ModelKits of a registry repository: every tag (all pages), or the one named."""
    network = build_network("list_remote", net)
    ref, _ = parse_reference(repository)
    explicit = ":" in repository.rsplit("/", 1)[-1] or "@" in repository
    with _remotes(home, network) as remotes:
        repo = remotes.repository(ref)
        tags = [ref.reference] if explicit else sorted(repo.tags())
        by_digest: dict[str, tuple[ModelKit, list[str]]] = {}
        skipped: set[str] = set()
        for t in tags:
            desc = repo.resolve(t)
            if desc.digest in skipped:
                continue
            if desc.digest not in by_digest:
                kit = _listed_modelkit(repo, desc, f"{ref.registry}/{ref.repository}:{t}")
                if kit is None:
                    skipped.add(desc.digest)
                    continue
                by_digest[desc.digest] = (kit, [])
            by_digest[desc.digest][1].append(t)
        out = []
        for digest, (kit, ktags) in sorted(by_digest.items()):
            pkg = kit.kitfile.package
            tag_list = [] if ref.digest else ktags
            out.append(
                ModelKitSummary(
                    repo=ref.repo_key,
                    digest=digest,
                    tags=tuple(tag_list) or None,
                    model_name=pkg.name or NONE,
                    size=sum(x.size for x in kit.manifest.layers),
                    author=pkg.authors[0] if pkg.authors else NONE,
                )
            )
        return out


def remote_modelkit(ref: str, *, home: Home = None, **net: Unpack[NetworkKeywords]) -> ModelKit:
    """Manifest, config and Kitfile straight from the registry (nothing stored locally)."""
    network = build_network("remote_modelkit", net)
    parsed = parse_single(ref)
    if parsed.registry == "localhost":
        raise UsageError(f"can not check remote: {parsed.display()} does not contain registry")
    with _remotes(home, network) as remotes:
        repo = remotes.repository(parsed)
        return load_modelkit_at(repo, repo.resolve(parsed.reference))


def remove_remote(ref: str, *, home: Home = None, **net: Unpack[NetworkKeywords]) -> Descriptor:
    """Delete a manifest (by tag or digest) from its registry."""
    network = build_network("remove_remote", net)
    parsed = parse_single(ref)
    with _remotes(home, network) as remotes:
        repo = remotes.repository(parsed)
        desc: Descriptor = repo.resolve(parsed.reference)
        repo.delete(desc)
        return desc
