"""Credentials: ``$KITOPS_HOME/credentials.json`` (Docker config format, mode 0600), read-only
fallbacks to Docker's ``config.json`` (auths, credsStore, credHelpers) and podman's ``auth.json``.

Secrets are passed to credential helpers on stdin, never in argv or the environment.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kitops.errors import KitError, UsageError
from kitops.fsutil import atomic_write, locked
from kitops.registry.auth import Credential

DOCKER_HUB_KEY = "https://index.docker.io/v1/"


def credential_key(registry: str) -> str:
    return (
        DOCKER_HUB_KEY if registry in ("docker.io", "index.docker.io", "registry-1.docker.io") else registry
    )


def _normalise(key: str) -> str:
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key.split("/", 1)[0]


def _from_entry(entry: Any) -> Credential | None:
    if not isinstance(entry, dict):
        return None
    username = str(entry.get("username") or "")
    password = str(entry.get("password") or "")
    auth = entry.get("auth")
    if auth:
        try:
            decoded = base64.b64decode(str(auth)).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        username, _, password = decoded.partition(":")
    cred = Credential(
        username=username,
        password=password,
        identity_token=str(entry.get("identitytoken") or ""),
        registry_token=str(entry.get("registrytoken") or ""),
    )
    return None if cred.empty else cred


def _lookup_auths(auths: Any, registry: str) -> Credential | None:
    if not isinstance(auths, dict):
        return None
    key = credential_key(registry)
    if key in auths:
        return _from_entry(auths[key])
    for k, v in auths.items():
        if _normalise(str(k)) == _normalise(key):
            return _from_entry(v)
    return None


def _helper(name: str, registry: str) -> Credential | None:
    exe = shutil.which(f"docker-credential-{name}")
    if exe is None:
        return None
    import subprocess  # only credential helpers need it: not loaded by every command

    try:
        proc = subprocess.run(
            [exe, "get"],
            input=credential_key(registry),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        obj = json.loads(proc.stdout)
    except ValueError:
        return None
    user, secret = str(obj.get("Username") or ""), str(obj.get("Secret") or "")
    if user == "<token>":
        return Credential(identity_token=secret)
    return Credential(username=user, password=secret) if (user or secret) else None


_PATH_LOCKS: dict[str, threading.RLock] = {}
_PATH_LOCKS_GUARD = threading.Lock()
LOCK_NAME = ".credentials.lock"


def _path_lock(path: Path) -> threading.RLock:
    with _PATH_LOCKS_GUARD:
        return _PATH_LOCKS.setdefault(str(path.absolute()), threading.RLock())


class CredentialStore:
    """Reads and writes kitops' credential file; reads Docker's and podman's.

    Every change (``save``, ``remove``, ``put_entry``) is one read-modify-write under a lock,
    across threads and (with ``flock`` on ``$KITOPS_HOME/.credentials.lock``) processes, so
    concurrent logins and logouts for different registries never lose each other's entries.
    """

    def __init__(self, home: Path) -> None:
        self.path = home / "credentials.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with _path_lock(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with locked(self.path.parent / LOCK_NAME):
                yield

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            obj = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise KitError(
                f"cannot read {self.path}: {exc}", hint="fix or delete the file and log in again"
            ) from None
        return obj if isinstance(obj, dict) else {}

    def get(self, registry: str) -> Credential | None:
        env_user, env_pass = (
            os.environ.get("KITOPS_REGISTRY_USER"),
            os.environ.get("KITOPS_REGISTRY_PASSWORD"),
        )
        if env_user and env_pass:
            return Credential(username=env_user, password=env_pass)
        cfg = self._load()
        found = _lookup_auths(cfg.get("auths"), registry)
        if found:
            return found
        for config in _docker_configs():
            helpers = config.get("credHelpers")
            if isinstance(helpers, dict) and credential_key(registry) in helpers:
                cred = _helper(str(helpers[credential_key(registry)]), registry)
                if cred:
                    return cred
            found = _lookup_auths(config.get("auths"), registry)
            if found:
                return found
            store = config.get("credsStore")
            if isinstance(store, str) and store:
                cred = _helper(store, registry)
                if cred:
                    return cred
        return None

    def save(self, registry: str, cred: Credential) -> None:
        entry: dict[str, str] = {}
        if cred.username:
            entry["auth"] = base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode()
        elif cred.password:
            entry["identitytoken"] = cred.password
        self.put_entry(registry, entry)

    def remove(self, registry: str) -> bool:
        if not self.path.exists():
            return False
        with self._locked():
            cfg = self._load()
            auths = cfg.get("auths") or {}
            key = credential_key(registry)
            if key not in auths:
                return False
            del auths[key]
            self._write(cfg)
            return True

    def entry(self, registry: str) -> dict[str, Any] | None:
        """The raw ``auths`` entry stored for ``registry`` in kitops' file (``None`` if there is none).

        Only kitops' own file, at the exact key ``save`` writes; a copy, so it can be put back
        later with :meth:`put_entry`.
        """
        auths = self._load().get("auths")
        found = auths.get(credential_key(registry)) if isinstance(auths, dict) else None
        return copy.deepcopy(found) if isinstance(found, dict) else None

    def put_entry(self, registry: str, entry: dict[str, Any] | None) -> None:
        """Store ``entry`` as the ``auths`` entry for ``registry``, or remove it with ``None``."""
        if entry is None:
            self.remove(registry)
            return
        with self._locked():
            cfg = self._load()
            auths = cfg.get("auths")
            if not isinstance(auths, dict):
                auths = cfg["auths"] = {}
            auths[credential_key(registry)] = copy.deepcopy(entry)
            self._write(cfg)

    def _write(self, cfg: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.path, (json.dumps(cfg, indent="\t") + "\n").encode(), mode=0o600)


def _docker_configs() -> list[dict[str, Any]]:
    paths = []
    docker_config = os.environ.get("DOCKER_CONFIG")
    paths.append(
        Path(docker_config) / "config.json" if docker_config else Path.home() / ".docker" / "config.json"
    )
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if os.environ.get("REGISTRY_AUTH_FILE"):
        paths.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    if xdg:
        paths.append(Path(xdg) / "containers" / "auth.json")
    paths.append(Path.home() / ".config" / "containers" / "auth.json")
    out = []
    for p in paths:
        try:
            obj = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def require_password(password: str | None, from_stdin: str | None) -> str:
    if password and from_stdin is not None:
        raise UsageError("cannot use both --password and --password-stdin")
    value = from_stdin.strip() if from_stdin is not None else (password or "")
    if from_stdin is not None and not value:
        raise UsageError("failed to read password from stdin: got empty string")
    return value
