"""What the Kubeflow steps do: pack a training step's output and push it, unpack a ModelKit.

These two functions are shared by the drop-in console scripts (:mod:`.cli`: ``push-modelkit``
and ``unpack-modelkit``, the upstream bash scripts' command lines) and by the KFP components,
which call them in-process. They only talk through :mod:`kitops.api` and ``logging`` (the
logger ``kitops.integrations.kubeflow``, each record carrying an ``extra`` dict that the
scripts print as JSON): they never print, exit, or read the script's environment themselves.

A pipeline step fails for reasons that go away (a registry restarting, a dropped connection),
so each registry step is tried ``attempts`` times, ``delay`` seconds apart, as the upstream
scripts' ``retry 3 2`` does; a failure that would only repeat itself (a bad reference, a refused
password, a signature that does not verify) fails at once.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kitops import api
from kitops.errors import (
    AuthenticationError,
    KitError,
    NotFoundError,
    PermissionDeniedError,
    TransferError,
)
from kitops.netopts import check_keywords
from kitops.oci.reference import parse_single
from kitops.signing.errors import SignatureError

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; only type checkers read it

    from kitops.netopts import NetworkKeywords

log = logging.getLogger("kitops.integrations.kubeflow")

T = TypeVar("T")

# The predicate type of the statement the push step attests: the KitOps provenance of a pipeline's
# ModelKit (its reference and digest, the dataset, code repository and commit it came from).
KITOPS_ATTESTATION = "https://kitops.ml/attestation/v1"
# Where the upstream image expects the signing key (the `cosign-keys` secret mounted at /etc/cosign).
DEFAULT_SIGNING_KEY = "/etc/cosign/cosign.key"
DEFAULT_EXTRACT_PATH = "/tmp/model"
DEFAULT_ATTEMPTS = 3
DEFAULT_DELAY = 2.0


@dataclass(frozen=True)
class PushOutputs:
    """What a push step hands to the next one: ``ref`` the tagged reference
    (``registry/repository:tag``), ``digest`` the manifest digest (``sha256:…``), ``full_ref`` the
    reference pinned by that digest (``registry/repository@sha256:…``, what deployments should
    use); ``attested`` whether a signature and a KitOps attestation were stored beside it."""

    ref: str
    digest: str
    full_ref: str
    attested: bool = False


class StepFailed(KitError):
    """A step of a Kubeflow workflow failed: ``step`` says which (``Failed to push ModelKit``),
    ``cause`` is the error that ended it (its message and hint are this error's too)."""

    def __init__(self, step: str, cause: KitError) -> None:
        super().__init__(f"{step}: {cause.message}", hint=cause.hint)
        self.step = step
        self.cause = cause


def push_modelkit(
    registry: str,
    repository: str,
    tag: str = "latest",
    *,
    modelkit_dir: str | os.PathLike[str],
    name: str = "",
    description: str = "",
    author: str = "",
    dataset_uri: str = "",
    code_repo: str = "",
    code_commit: str = "",
    use_model_pack: bool = False,
    signing_key: str | os.PathLike[str] | bytes | None = None,
    password: str | bytes | None = None,
    require_attestation: bool = False,
    home: str | os.PathLike[str] | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    delay: float = DEFAULT_DELAY,
    **net: Unpack[NetworkKeywords],
) -> PushOutputs:
    """Pack ``modelkit_dir`` as ``registry/repository:tag`` and push it; attest it when a key is given.

    Without a Kitfile (``Kitfile``, ``kitfile`` or ``.kitfile``) in the directory, one is
    generated there first from its contents, with ``name``, ``description`` and ``author``.
    ``use_model_pack`` packs the CNCF ModelPack format instead of the Kit format.

    ``signing_key`` (a path to ``cosign.key``, or the PEM bytes; ``password`` unlocks it, empty
    when ``None`` as cosign reads an unset ``COSIGN_PASSWORD`` in a pod) signs the pushed manifest
    and attests it with an in-toto statement of type :data:`KITOPS_ATTESTATION` whose predicate
    is :func:`attestation_predicate`, both stored on the registry (cosign's ``.sig``/``.att``
    tags), so ``kit verify``, ``kit verify-attestation`` and ``cosign verify`` accept it. A path
    that does not exist skips this with a warning, as a secret that is not mounted does upstream;
    a failure to sign is a warning too, unless ``require_attestation`` (then either raises).

    Raises :class:`StepFailed` naming the step that failed.
    """
    check_keywords("push_modelkit", net)
    directory = Path(modelkit_dir)
    if not directory.is_dir():
        raise NotFoundError(f"ModelKit directory not found: {modelkit_dir}")
    ref = f"{registry}/{repository}:{tag}"
    parse_single(ref)  # a malformed registry, repository or tag fails before anything is written
    _info("Starting ModelKit push", reference=ref)
    _info("Using ModelKit directory", dir=str(modelkit_dir))
    if any((directory / name_).is_file() for name_ in api.KITFILE_NAMES):
        _info("Found existing Kitfile")
    else:
        _info("No Kitfile found, running kit init")
        _step(
            "Failed to initialize Kitfile",
            lambda: api.init(directory, name=name, description=description, author=author),
        )
    _info("Packing ModelKit artifacts")
    _step(
        "Failed to pack ModelKit",
        lambda: api.pack(
            directory, tag=ref, model_format="modelpack" if use_model_pack else "kit", home=home
        ),
    )
    _info("Pushing to registry")
    pushed = _step(
        "Failed to push ModelKit",
        lambda: retry(lambda _attempt: api.push(ref, home=home, **net), attempts=attempts, delay=delay),
    )
    digest = pushed.descriptor.digest
    full_ref = f"{registry}/{repository}@{digest}"
    log.debug("ModelKit digest: %s", digest)
    _info("Push completed", reference=full_ref)
    predicate = attestation_predicate(
        full_ref, digest, dataset_uri=dataset_uri, code_repo=code_repo, code_commit=code_commit
    )
    attested = _sign_and_attest(
        full_ref,
        predicate,
        signing_key=signing_key,
        password=password,
        required=require_attestation,
        home=home,
        attempts=attempts,
        delay=delay,
        net=net,
    )
    return PushOutputs(ref=ref, digest=digest, full_ref=full_ref, attested=attested)


def attestation_predicate(
    full_ref: str,
    digest: str,
    *,
    dataset_uri: str = "",
    code_repo: str = "",
    code_commit: str = "",
    created_at: _dt.datetime | None = None,
) -> dict[str, Any]:
    """The predicate of the :data:`KITOPS_ATTESTATION` statement: the upstream script's fields
    (empty strings for what is not known; ``created_at`` in UTC seconds, default now)."""
    moment = (created_at or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    return {
        "modelkit": {"reference": full_ref, "digest": digest},
        "metadata": {
            "dataset_uri": dataset_uri,
            "code_repo": code_repo,
            "code_commit": code_commit,
            "created_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }


def _sign_and_attest(
    full_ref: str,
    predicate: Mapping[str, Any],
    *,
    signing_key: str | os.PathLike[str] | bytes | None,
    password: str | bytes | None,
    required: bool,
    home: str | os.PathLike[str] | None,
    attempts: int,
    delay: float,
    net: NetworkKeywords,
) -> bool:
    """Sign ``full_ref`` and attest it on its registry; whether it was done.

    Besides the attestation the upstream component makes, the manifest gets a plain signature by
    the same key: it claims nothing more (the attestation is already a signature of this digest by
    this key), and it is what an init container or ``kit unpack --verify-key`` checks, so a model
    this step pushes can be deployed with verification on."""
    if signing_key is None or (not isinstance(signing_key, bytes) and not Path(signing_key).is_file()):
        if required:
            raise StepFailed(
                "Failed to sign ModelKit",
                NotFoundError(f"no signing key at {signing_key}" if signing_key else "no signing key given"),
            )
        where = f" at {os.fspath(signing_key)}" if signing_key is not None else ""
        log.warning("No cosign key found%s, skipping signing", where)
        return False
    _info("Signing and attaching attestation")
    secret = "" if password is None else password
    body = json.dumps(predicate, separators=(",", ":")).encode("utf-8")

    def attest(_attempt: int) -> str:
        return api.attest(
            full_ref,
            signing_key=signing_key,
            password=secret,
            predicate=body,
            predicate_type=KITOPS_ATTESTATION,
            remote=True,
            home=home,
            **net,
        ).descriptor.digest

    def sign(_attempt: int) -> str:
        return api.sign(
            full_ref, signing_key=signing_key, password=secret, remote=True, home=home, **net
        ).descriptor.digest

    try:  # retried apart: a second try of the signature must not attest twice
        att_digest = retry(attest, attempts=attempts, delay=delay)
        sig_digest = retry(sign, attempts=attempts, delay=delay)
    except KitError as exc:
        if required:
            raise StepFailed("Failed to sign ModelKit", exc) from None
        log.warning("Failed to sign ModelKit, continuing", extra={"extra": _error_fields(exc)})
        return False
    _info("Signed ModelKit and attached attestation", attestation=att_digest, signature=sig_digest)
    return True


def unpack_modelkit(
    ref: str,
    extract_path: str | os.PathLike[str] = DEFAULT_EXTRACT_PATH,
    *,
    filters: Sequence[str] = (),
    verify_key: str | os.PathLike[str] | bytes | None = None,
    home: str | os.PathLike[str] | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    delay: float = DEFAULT_DELAY,
    **net: Unpack[NetworkKeywords],
) -> str:
    """Unpack ``ref`` into ``extract_path`` (created with its parents; an empty one means
    :data:`DEFAULT_EXTRACT_PATH`), only what ``filters`` select (``kit unpack --filter``); return
    the path as given.

    With ``verify_key`` (``cosign.pub``: a path or the PEM bytes) the ModelKit must carry a
    signature, or a :data:`KITOPS_ATTESTATION` attestation, that the key verifies, checked before
    anything is written; then the digest that was verified is what gets unpacked, so a tag moved
    in between cannot swap in another model. Otherwise :class:`StepFailed` (its cause a
    :class:`~kitops.signing.errors.SignatureError`) and nothing is written.
    """
    check_keywords("unpack_modelkit", net)
    path = os.fspath(extract_path) or DEFAULT_EXTRACT_PATH
    _info("Starting unpack", modelkit_reference=ref, extract_path=path)
    target = ref
    if verify_key is not None:
        target = _step(
            "Failed to verify ModelKit",
            lambda: retry(lambda _a: _verified(ref, verify_key, home, net), attempts=attempts, delay=delay),
        )

    def unpack(attempt: int) -> None:
        # a retry keeps what an earlier attempt unpacked: each layer lands whole or not at all,
        # and it is the same ModelKit's (a file that was there before the first attempt made
        # that attempt fail at once, without retries)
        api.unpack(target, target_dir=path, filters=filters, ignore_existing=attempt > 1, home=home, **net)

    _info("Unpacking")
    _step("Failed to unpack ModelKit", lambda: retry(unpack, attempts=attempts, delay=delay))
    _info("Unpacked successfully", path=path)
    return path


def _verified(
    ref: str, key: str | os.PathLike[str] | bytes, home: str | os.PathLike[str] | None, net: NetworkKeywords
) -> str:
    """``ref`` pinned to the digest that ``key`` verifies a KitOps attestation or a signature of.

    A reference that names a registry is verified there, where the push step stored the signature
    and the attestation, even when local storage holds the ModelKit too (the push step packed it
    there, in the same home when both steps share one): the digest is what matters, and local
    storage holds that digest's verified bytes."""
    parsed = parse_single(ref)
    remote = not parsed.is_local_only
    try:
        subject = api.verify_attestation(
            ref, verify_key=key, predicate_type=KITOPS_ATTESTATION, remote=remote, home=home, **net
        ).subject
        how = "attestation"
    except SignatureError as att_exc:
        try:
            subject = api.verify(ref, verify_key=key, remote=remote, home=home, **net).subject
            how = "signature"
        except SignatureError as sig_exc:
            raise SignatureError(
                f"{ref}: no KitOps attestation or signature verified by the key "
                f"({att_exc.message}; {sig_exc.message})",
                hint="push it with a signing key mounted, or sign it: kit sign --key cosign.key REF",
            ) from None
    pinned = str(parsed.with_digest(subject.digest))
    _info("Verified ModelKit", verified_by=how, digest=subject.digest)
    return pinned


# ---------------------------------------------------------------------------------------------
# retries and log records


def default_signing_key(environ: Mapping[str, str] | None = None) -> str:
    """Where the push step looks for its signing key: ``KITOPS_COSIGN_KEY`` when set (a test, or
    an image mounting the secret elsewhere), else :data:`DEFAULT_SIGNING_KEY`."""
    env = os.environ if environ is None else environ
    return env.get("KITOPS_COSIGN_KEY") or DEFAULT_SIGNING_KEY


def is_transient(exc: KitError) -> bool:
    """Whether trying again may succeed: a registry or network failure, or a manifest not found
    yet (a registry that has not caught up with a push); never refused credentials or permissions."""
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return False
    return isinstance(exc, TransferError | NotFoundError) and not isinstance(exc, SignatureError)


def retry(
    action: Callable[[int], T],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    delay: float = DEFAULT_DELAY,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``action(attempt)`` until it succeeds, at most ``attempts`` times ``delay`` seconds apart;
    only :func:`is_transient` errors are tried again. The last error is raised."""
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        log.debug("Attempting command (attempt %d/%d)", attempt, attempts)
        try:
            return action(attempt)
        except KitError as exc:
            if not is_transient(exc):
                raise
            if attempt == attempts:
                log.error("Command failed after %d attempts", attempts, extra={"extra": _error_fields(exc)})
                raise
            log.warning(
                "Command failed, retrying in %ss",
                f"{delay:g}",
                extra={"extra": {"attempt": attempt, **_error_fields(exc)}},
            )
            sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises


def _step(step: str, action: Callable[[], T]) -> T:
    try:
        return action()
    except StepFailed:
        raise
    except KitError as exc:
        raise StepFailed(step, exc) from exc


def _error_fields(exc: KitError) -> dict[str, str]:
    fields = {"error": exc.message}
    if exc.hint:
        fields["hint"] = exc.hint
    return fields


def _info(message: str, **fields: str) -> None:
    log.info(message, extra={"extra": fields})
