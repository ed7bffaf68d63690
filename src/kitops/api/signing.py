"""Signing: key pairs, signatures, attestations and attached artifacts (cosign-compatible)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kitops.api._common import Home, _check_mode, _checked_annotations, _remotes, local_store, log
from kitops.errors import NotFoundError, UsageError
from kitops.netopts import NetworkKeywords, build_network, check_keywords
from kitops.oci.models import Descriptor
from kitops.oci.reference import DEFAULT_REGISTRY, Reference, parse_single

if TYPE_CHECKING:  # types only: httpx, the registry client and the pack/unpack code load when a command runs
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; only type checkers read it

    from kitops.signing.attach import Artifact
    from kitops.signing.cosign import ReferrerStore
    from kitops.signing.keys import SigningKey, VerifyKey
    from kitops.signing.verify import VerifiedAttestation, VerifiedSignature


# A key is a file path, or the PEM bytes themselves. A password is the bytes (or text), or a
# function the key loader calls only when the key turns out to be encrypted (the CLI prompts there).
KeySource = str | os.PathLike[str] | bytes
Password = bytes | str | Callable[[], bytes | str] | None
MAX_KEY_FILE = 1 << 20  # a PEM key is a few KiB; a bigger "key" is a mistake (a model file)
# the envelope (the predicate in base64, signed) must stay a small blob that verifiers read whole
MAX_PREDICATE = 8 << 20


@dataclass(frozen=True)
class KeyPair:
    """A new signing key pair: ``private_key`` is the encrypted PEM for ``cosign.key`` (write it
    with mode 0600), ``public_key`` the PEM for ``cosign.pub``."""

    private_key: bytes
    public_key: bytes


def generate_key_pair(password: bytes | str = b"", *, algorithm: str = "ecdsa-p256") -> KeyPair:
    """A new key pair in cosign's format (``ENCRYPTED SIGSTORE PRIVATE KEY``, scrypt + secretbox);
    an empty password still encrypts. ``algorithm``: ``ecdsa-p256`` (cosign's default),
    ``ecdsa-p384``, ``ecdsa-p521``, ``ed25519``, ``rsa-2048``... Nothing is written: the caller
    stores the bytes."""
    from kitops.signing.keys import generate_key_pair as _generate

    private_key, public_key = _generate(_secret(password), algorithm=algorithm)
    return KeyPair(private_key, public_key)


@dataclass(frozen=True)
class ReferrerResult:
    """What :func:`sign`, :func:`attest` and :func:`attach` stored: ``descriptor`` is the manifest
    holding it (the ``.sig``/``.att`` tag manifest, or a referrer) about ``subject``, kept in local
    storage or (``remote``) on the registry."""

    reference: Reference
    subject: Descriptor
    descriptor: Descriptor
    remote: bool


@dataclass(frozen=True)
class VerifyResult:
    reference: Reference
    subject: Descriptor
    signatures: tuple[VerifiedSignature, ...]


@dataclass(frozen=True)
class AttestationResult:
    reference: Reference
    subject: Descriptor
    attestations: tuple[VerifiedAttestation, ...]


@dataclass(frozen=True)
class DiscoverResult:
    reference: Reference
    subject: Descriptor
    referrers: tuple[Artifact, ...]


def sign(
    ref: str,
    *,
    signing_key: KeySource,
    password: Password = None,
    annotations: Mapping[str, str] | None = None,
    mode: str = "tag",
    remote: bool = False,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> ReferrerResult:
    """Sign the manifest ``ref`` names (its digest) with the private key ``signing_key`` (a path to
    ``cosign.key`` or another PEM key, or its bytes; ``password`` unlocks it), as cosign does.

    ``ref`` is taken from local storage when it is there, else (or with ``remote``) from the
    registry it names, as :func:`info` decides; the signature is stored beside it. ``mode``:
    ``"tag"`` (cosign's ``sha256-<hex>.sig`` tag), ``"referrers"`` (an OCI 1.1 referrer) or
    ``"bundle"`` (a Sigstore bundle referrer, cosign v3). ``annotations`` are signed into the
    payload (cosign's ``-a``). A signature by the same key over the same payload is not added twice.
    """
    from kitops.signing.storage import SIGN_MODES, sign_manifest

    check_keywords("sign", net)
    _check_mode(mode, SIGN_MODES)
    private_key = _signing_key(signing_key, password)  # a wrong key or password costs no request
    with _signing_target("sign", ref, home, remote, net) as (repo, parsed, subject, on_registry):
        desc = sign_manifest(
            repo,
            subject,
            private_key,
            mode=mode,
            docker_reference=parsed.repo_key,
            annotations=_checked_annotations(annotations),
        )
    return ReferrerResult(parsed, subject, desc, on_registry)


def verify(
    ref: str,
    *,
    verify_key: KeySource,
    remote: bool = False,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> VerifyResult:
    """The signatures of ``ref`` that the public key ``verify_key`` (``cosign.pub``: a path, or its
    bytes) verifies, found in all three places
    (the ``.sig`` tag, signature referrers, bundles). Raises
    :class:`~kitops.signing.errors.SignatureError` when none does, saying why: no signature at
    all, none by this key, one for another manifest, or a payload that does not match its digest."""
    from kitops.signing.verify import verify_signatures

    check_keywords("verify", net)
    public_key = _public_key(verify_key)
    with _signing_target("verify", ref, home, remote, net) as (repo, parsed, subject, _on_registry):
        found = verify_signatures(
            repo, subject, public_key, name=parsed.display(), docker_reference=parsed.repo_key
        )
    return VerifyResult(parsed, subject, tuple(found))


def attest(
    ref: str,
    *,
    signing_key: KeySource,
    predicate: str | os.PathLike[str] | bytes,
    predicate_type: str = "custom",
    password: Password = None,
    mode: str = "tag",
    remote: bool = False,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> ReferrerResult:
    """Attest ``ref``: an in-toto statement (subject: its repository and digest) carrying the
    predicate (a file path, or its bytes) of ``predicate_type`` (``slsaprovenance``, ``spdxjson``,
    ``cyclonedx``, ``custom``... or a URI), signed with ``signing_key`` (and ``password``, as
    :func:`sign`) in a DSSE envelope and stored as a layer of the
    ``.att`` tag (``mode="tag"``) or as a referrer (``mode="referrers"``)."""
    from kitops.signing.dsse import predicate_from_bytes, resolve_predicate_type
    from kitops.signing.storage import ATTEST_MODES, attest_manifest

    check_keywords("attest", net)
    _check_mode(mode, ATTEST_MODES)
    type_uri = resolve_predicate_type(predicate_type)
    data = predicate if isinstance(predicate, bytes) else _small_file(predicate, "predicate", MAX_PREDICATE)
    if len(data) > MAX_PREDICATE:
        raise UsageError(f"the predicate is larger than {MAX_PREDICATE} bytes")
    body = predicate_from_bytes(type_uri, data)
    private_key = _signing_key(signing_key, password)
    with _signing_target("attest", ref, home, remote, net) as (repo, parsed, subject, on_registry):
        desc = attest_manifest(
            repo,
            subject,
            private_key,
            predicate_type=type_uri,
            predicate=body,
            docker_reference=parsed.repo_key,
            mode=mode,
        )
    return ReferrerResult(parsed, subject, desc, on_registry)


def verify_attestation(
    ref: str,
    *,
    verify_key: KeySource,
    predicate_type: str | None = None,
    remote: bool = False,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> AttestationResult:
    """The attestations of ``ref`` that the public key ``verify_key`` verifies and whose statement names
    its digest (only those of ``predicate_type``, a name or URI, when given). Raises
    :class:`~kitops.signing.errors.SignatureError` when none does, saying why."""
    from kitops.signing.dsse import resolve_predicate_type
    from kitops.signing.verify import verify_attestations

    check_keywords("verify_attestation", net)
    type_uri = resolve_predicate_type(predicate_type) if predicate_type else None
    public_key = _public_key(verify_key)
    with _signing_target("verify_attestation", ref, home, remote, net) as (repo, parsed, subject, _r):
        found = verify_attestations(repo, subject, public_key, name=parsed.display(), predicate_type=type_uri)
    return AttestationResult(parsed, subject, tuple(found))


def attach(
    ref: str,
    file: str | os.PathLike[str],
    *,
    artifact_type: str,
    media_type: str = "application/octet-stream",
    annotations: Mapping[str, str] | None = None,
    remote: bool = False,
    home: Home = None,
    **net: Unpack[NetworkKeywords],
) -> ReferrerResult:
    """Attach ``file`` (a model card, an SBOM, an eval report) to ``ref`` as a referrer of
    ``artifact_type`` whose one layer is the file (``media_type``, titled with its name), as
    ``oras attach`` does; ``annotations`` go on the referrer. Streamed, never read whole."""
    from kitops.signing.attach import attach_file

    check_keywords("attach", net)
    with _signing_target("attach", ref, home, remote, net) as (repo, parsed, subject, on_registry):
        desc = attach_file(
            repo,
            subject,
            file,
            artifact_type=artifact_type,
            media_type=media_type,
            annotations=_checked_annotations(annotations),
        )
    return ReferrerResult(parsed, subject, desc, on_registry)


def discover(
    ref: str, *, remote: bool = False, home: Home = None, **net: Unpack[NetworkKeywords]
) -> DiscoverResult:
    """Everything that refers to ``ref``, recursively: OCI 1.1 referrers (the registry's API or
    its tag-schema index; local storage's) and cosign's ``.sig``/``.att``/``.sbom`` tags."""
    from kitops.signing.attach import discover as _discover

    check_keywords("discover", net)
    with _signing_target("discover", ref, home, remote, net) as (repo, parsed, subject, _on_registry):
        found = _discover(repo, subject)
    return DiscoverResult(parsed, subject, found)


@contextlib.contextmanager
def _signing_target(
    function: str, ref: str, home: Home, remote: bool, net: NetworkKeywords
) -> Iterator[tuple[ReferrerStore, Reference, Descriptor, bool]]:
    """The repository holding ``ref``, the reference, the manifest it names, and whether that is
    on a registry: local storage when it holds ``ref`` (and ``remote`` is not asked for), else the
    registry the reference names, as :func:`info` decides. Local writes are leased against a
    concurrent ``kit remove``; the registry connections close when the block ends."""
    parsed = parse_single(ref)
    if not remote:
        store = local_store(home)
        repo = store.repository(parsed.repo_key)
        try:
            desc = repo.resolve(parsed.reference)
        except NotFoundError:
            if parsed.registry == DEFAULT_REGISTRY:
                raise NotFoundError(
                    f"model {parsed.display()} not found", hint="run 'kit list' to see what is stored"
                ) from None
            log.info("%s is not in local storage; using %s", parsed.display(), parsed.registry)
        else:
            with store.leased():
                yield repo, parsed, desc, False
            return
    if parsed.registry == DEFAULT_REGISTRY:
        raise UsageError(f"can not check remote: {parsed.display()} does not contain registry")
    with _remotes(home, build_network(function, net)) as remotes:
        remote_repo = remotes.repository(parsed)
        yield remote_repo, parsed, remote_repo.resolve(parsed.reference), True


def _secret(password: bytes | str) -> bytes:
    return password.encode("utf-8") if isinstance(password, str) else password


def _small_file(path: str | os.PathLike[str], what: str, limit: int) -> bytes:
    """A small file read whole (a key, a predicate), refusing what is not a regular file or too big."""
    source = Path(path)
    if not source.is_file():
        raise NotFoundError(f"{what} file {source} " + ("is not a file" if source.exists() else "not found"))
    with open(source, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise UsageError(f"{what} file {source} is larger than {limit} bytes")
    return data


def _key_bytes(key: KeySource, what: str) -> bytes:
    return key if isinstance(key, bytes) else _small_file(key, what, MAX_KEY_FILE)


def _signing_key(key: KeySource, password: Password) -> SigningKey:
    """Load a private key, asking for the password (calling ``password``) only if it is encrypted."""
    from kitops.signing.keys import key_needs_password, load_private_key

    pem = _key_bytes(key, "key")
    secret: bytes | None = None
    if key_needs_password(pem):
        given = password() if callable(password) else password
        secret = None if given is None else _secret(given)
    return load_private_key(pem, secret)


def _public_key(key: KeySource) -> VerifyKey:
    from kitops.signing.keys import load_public_key

    return load_public_key(_key_bytes(key, "key"))


def _verify_before_use(repo: ReferrerStore, subject: Descriptor, ref: Reference, key: VerifyKey) -> None:
    """Refuse ``subject`` unless ``key`` verifies a signature of it: called before any layer of a
    ModelKit is read, so an unsigned or wrongly signed one writes nothing."""
    from kitops.signing.verify import verify_signatures

    found = verify_signatures(repo, subject, key, name=ref.display(), docker_reference=ref.repo_key)
    log.info("Verified %d signature(s) of %s (%s)", len(found), ref.display(), subject.digest)
