"""The container entrypoints of a Kubernetes deployment: the init container that unpacks a ModelKit
into a pod's volume, and the KServe storage container behind ``storageUri: kit://...``.

Upstream, these are bash scripts around the ``kit`` and ``cosign`` binaries, configured by
environment variables. Here each is a plan computed from that environment, which the ``kit
init-container`` and ``kit kserve-storage`` commands announce and then run as a ``kit unpack``
command line: the variables, their defaults and the messages are the scripts', so existing pod
specs keep working, while signature checks are kit's own (``kit unpack --verify-key``) and run
before a byte of the ModelKit is written. The image therefore needs neither bash nor cosign nor
a cloud CLI.

Nothing here prints or exits: the plans carry the lines to announce, and a wrong environment is
an :class:`EntrypointError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kitops.errors import KitError
from kitops.oci.reference import parse_single
from kitops.registry.credentials import CredentialStore
from kitops.settings import kitops_home

log = logging.getLogger("kitops.integrations.kubernetes")

DEFAULT_UNPACK_PATH = "/home/user/modelkit/"
DEFAULT_UNPACK_FILTER = "model"
# a restarted pod finds the files of its last run in a persistent volume: keep them, unpack the rest
DEFAULT_EXTRA_FLAGS = ("--ignore-existing",)
KIT_URI_PREFIX = "kit://"
KSERVE_USAGE = "Usage: kit kserve-storage <src-uri> <dest-path>"
KEY_HINT = "set COSIGN_KEY to the public key (cosign.pub): a file path, or the PEM text itself"

# the unpack flags that name the target directory; any word starting so is taken for one, as upstream
_DIR_FLAG_PREFIXES = ("-d", "--dir")
_VERIFY_FLAG = "--verify-key"

KeySource = str | bytes  # a path to cosign.pub, or its PEM bytes (kitops.api.KeySource)


class EntrypointError(KitError):
    """The environment of a container entrypoint is missing or contradicts itself. It exits 1,
    as the upstream scripts do, so that Kubernetes sees a failed container, not a bad command."""


@dataclass(frozen=True)
class UnpackPlan:
    """What an entrypoint is about to do: the ``kit unpack`` command line (the words after
    ``unpack``), the public key its signature must verify with (``None``: no check) and the lines
    to announce first, in order."""

    ref: str
    unpack_args: tuple[str, ...]
    verify_key: KeySource | None
    messages: tuple[str, ...]


@dataclass(frozen=True)
class RegistryLogin:
    """Credentials to check and store for ``registry`` before unpacking."""

    registry: str
    username: str
    password: str = field(repr=False)


def _value(env: Mapping[str, str], name: str, default: str = "") -> str:
    """A variable as bash's ``${NAME:-default}`` reads it: set but empty counts as unset."""
    return env.get(name) or default


def _words(env: Mapping[str, str], name: str) -> list[str]:
    """Extra flags, split on whitespace as ``read -a`` splits them (no quoting)."""
    return _value(env, name).split()


def verification(env: Mapping[str, str], ref: str, flags: Sequence[str]) -> tuple[KeySource | None, str]:
    """The key a signature of ``ref`` must verify with, from ``COSIGN_KEY``, and the line that says so.

    ``COSIGN_KEY`` is a path to ``cosign.pub`` or (so that a Kubernetes secret can be passed as an
    environment variable, as a KServe storage container cannot mount one) the PEM text. Keyless
    verification (``COSIGN_CERT_IDENTITY``/``COSIGN_CERT_OIDC_ISSUER``) needs Fulcio and Rekor,
    which kit does not reach: asking for it is an error rather than a pod that runs unverified.
    """
    key = _value(env, "COSIGN_KEY")
    if key:
        source: KeySource = key.encode() if key.lstrip().startswith("-----BEGIN") else key
        return source, f"Verifying signature for modelkit {ref} via key"
    if _value(env, "COSIGN_CERT_IDENTITY") or _value(env, "COSIGN_CERT_OIDC_ISSUER"):
        raise EntrypointError("keyless verification is not supported; set COSIGN_KEY", hint=KEY_HINT)
    if any(w == _VERIFY_FLAG or w.startswith(_VERIFY_FLAG + "=") for w in flags):
        return None, f"Verifying signature for modelkit {ref} via key"  # the flag does it
    return None, "Signature verification is disabled"


def init_container_plan(env: Mapping[str, str]) -> UnpackPlan:
    """The init container's unpack, from ``MODELKIT_REF`` (required), ``UNPACK_PATH``,
    ``UNPACK_FILTER``, ``EXTRA_FLAGS`` and ``COSIGN_KEY``.

    ``EXTRA_FLAGS`` defaults to ``--ignore-existing`` only when it is empty; when one of its words
    starts with ``-d`` or ``--dir``, it names the directory and ``UNPACK_PATH`` is not passed.
    """
    ref = _value(env, "MODELKIT_REF")
    if not ref:
        raise EntrypointError(
            "Environment variable $MODELKIT_REF is required",
            hint="set MODELKIT_REF to the ModelKit to unpack, e.g. registry.example.com/team/model:v1",
        )
    path = _value(env, "UNPACK_PATH", DEFAULT_UNPACK_PATH)
    selected = _value(env, "UNPACK_FILTER", DEFAULT_UNPACK_FILTER)
    flags = _words(env, "EXTRA_FLAGS") or list(DEFAULT_EXTRA_FLAGS)
    key, verifying = verification(env, ref, flags)
    shown = " ".join(flags)
    if any(word.startswith(_DIR_FLAG_PREFIXES) for word in flags):
        args = [ref, f"--filter={selected}", *flags]
        unpacking = f"Unpacking modelkit {ref} with flags '--filter={selected} {shown}'"
    else:
        args = [ref, "--dir", path, f"--filter={selected}", *flags]
        unpacking = f"Unpacking modelkit {ref} to {path} with filter '{selected}'. Additional flags: {shown}"
    return UnpackPlan(ref, tuple(args), key, (verifying, unpacking))


def kserve_plan(src_uri: str, dest_path: str, env: Mapping[str, str]) -> UnpackPlan:
    """The KServe storage container's unpack of ``src_uri`` (``kit://<reference>``) into
    ``dest_path``, with the flags of ``KIT_UNPACK_FLAGS`` and the key of ``COSIGN_KEY``."""
    ref = src_uri.removeprefix(KIT_URI_PREFIX)
    flags = _words(env, "KIT_UNPACK_FLAGS")
    key, verifying = verification(env, ref, flags)
    messages = (
        verifying,
        f"Unpacking {ref} to {dest_path}",
        f"Unpack options: {_value(env, 'KIT_UNPACK_FLAGS')}",
    )
    return UnpackPlan(ref, (ref, "-d", dest_path, *flags), key, messages)


def kserve_login(ref: str, env: Mapping[str, str], *, home: str | Path | None = None) -> RegistryLogin | None:
    """The login the KServe storage container makes before unpacking ``ref``, if any.

    ``KIT_USER`` and ``KIT_PASSWORD`` (both, or neither) log in to the registry of ``ref``. The
    upstream image can also log in to ECR (``AWS_ROLE_ARN``) or Artifact Registry (``GCP_WIF``)
    through the AWS CLI and Google's auth library; this one carries neither, so with those set it
    relies on credentials already there (a mounted Docker ``config.json`` under
    ``$DOCKER_CONFIG``, or kit's own) and says what is missing when there are none, instead of
    failing later with the registry's bare 401.
    """
    user, password = _value(env, "KIT_USER"), _value(env, "KIT_PASSWORD")
    if bool(user) != bool(password):
        raise EntrypointError(
            "KIT_USER and KIT_PASSWORD must be set together",
            hint=f"set both to log in to the registry of {ref}, or neither",
        )
    registry = parse_single(ref).registry
    if user:
        return RegistryLogin(registry, user, password)
    cloud = _cloud_login(env)
    if cloud and CredentialStore(kitops_home(home)).get(registry) is None:
        raise EntrypointError(
            f"{cloud} login is not built into this image: {registry} needs KIT_USER and KIT_PASSWORD, "
            "or a mounted Docker config",
            hint="mount a config.json holding credentials for the registry and set DOCKER_CONFIG to "
            "its directory, or pass a registry token as KIT_USER/KIT_PASSWORD",
        )
    if cloud:
        log.info("%s is set: using the stored credentials for %s", cloud, registry)
    return None


def _cloud_login(env: Mapping[str, str]) -> str:
    """The cloud login the upstream script would make (an empty string for none)."""
    if _value(env, "AWS_ROLE_ARN"):
        return "ECR (AWS_ROLE_ARN)"
    if _value(env, "GCP_WIF") == "true":
        return "Artifact Registry (GCP_WIF)"
    return ""
