"""``ModelKitManager``: pull/unpack and pack/push one ModelKit for one working directory.

PyKitOps' class, served at ``kitops.modelkit.manager``: the same constructor, properties and
methods as PyKitOps 1.5.0. Each step is a PyKitOps ``kit`` function, looked up on the module
``kitops.cli.kit`` when it runs, as the reference's manager did: failures are
``CalledProcessError`` subclasses, the ``% kit …`` lines are logged, and a stub patched onto
``kitops.cli.kit`` (a usual way to test code built on the manager) is what the manager calls.
Fixed over the reference:

* ``pack_and_push_modelkit(save_kitfile=True)`` writes the Kitfile into the
  working directory, the one that is packed (the reference wrote it into the cwd).
* ``with_login_and_logout=True`` never ends a session the user had: the stored
  credential for that registry is put back as it was, in a ``finally`` (also on failure).
* credentials are optional: public pulls and sessions from ``kit login`` need none;
  the credentials' ``registry`` and ``namespace`` (``JOZU_REGISTRY``/``JOZU_NAMESPACE``) are used.
* ``modelkit_tag`` may be partial (``"v1"``, ``"repo:v1"``): the registry comes
  from the credentials, the namespace from the credentials' namespace or username, the
  repository from the Kitfile's package name. A missing part is a clear ``ValueError``.
* the default working directory is the current directory when the manager is
  created (not when kitops was imported), and nothing is created until something is unpacked.
* ``pull_and_unpack_modelkit`` can overwrite or keep existing files, and with
  filters unpacks exactly the manifest the registry has now (never a stale local copy).
* No ``os.chdir``; one lock per manager; one lock per (home, registry) around a login session.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The module itself, not its functions: each call looks the function up when it runs (see above).
from kitops.cli import kit
from kitops.compat.pykitops.kitfile import Kitfile
from kitops.compat.pykitops.reference import ModelKitReference
from kitops.compat.pykitops.user import UserCredentials
from kitops.compat.pykitops.utils import environment_values, local_path

if TYPE_CHECKING:
    from kitops.registry.remote import NetworkOptions

__all__ = ["ModelKitManager"]

_SESSION_LOCKS: dict[tuple[str, str], threading.RLock] = {}
_SESSION_LOCKS_GUARD = threading.Lock()


def _session_lock(home: Path, registry: str) -> threading.RLock:
    with _SESSION_LOCKS_GUARD:
        return _SESSION_LOCKS.setdefault((str(home), registry), threading.RLock())


def repository_name(name: str) -> str:
    """A package name as an OCI repository name: lower case, other characters as ``-``."""
    text = re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower())
    return re.sub(r"^[._-]+|[._-]+$", "", text)


class ModelKitManager:
    """Pack and push, or pull and unpack, the ModelKit ``modelkit_tag`` in ``working_directory``.

    Examples:
        >>> manager = ModelKitManager(working_directory="./my-model",  # doctest: +SKIP
        ...                           modelkit_tag="registry.example.com/me/my-model:v1")
        >>> manager.pack_and_push_modelkit()  # doctest: +SKIP
    """

    def __init__(
        self,
        working_directory: str | os.PathLike[str] | None = None,
        user_credentials: UserCredentials | None = None,
        modelkit_reference: ModelKitReference | None = None,
        modelkit_tag: str | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        network: NetworkOptions | None = None,
    ) -> None:
        """``home`` is the ``$KITOPS_HOME`` to use and ``network`` the registry options
        (plain HTTP, TLS, concurrency…); both are additions to the reference API."""
        self._lock = threading.RLock()
        self._working_directory = ""
        self.working_directory = os.getcwd() if working_directory is None else working_directory
        self._user_credentials = user_credentials
        self._modelkit_reference = (
            modelkit_reference if modelkit_reference is not None else ModelKitReference(modelkit_tag)
        )
        self._kitfile: Kitfile | None = None
        self._home = home
        self._network = network

    # ---- properties --------------------------------------------------------------------
    @property
    def working_directory(self) -> str:
        return self._working_directory

    @working_directory.setter
    def working_directory(self, value: str | os.PathLike[str]) -> None:
        """A path or a ``file://`` URI (``mlflow.get_artifact_uri()``); created only when unpacking."""
        self._working_directory = Path(local_path(value)).as_posix()

    @property
    def user_credentials(self) -> UserCredentials | None:
        return self._user_credentials

    @user_credentials.setter
    def user_credentials(self, value: UserCredentials | None) -> None:
        self._user_credentials = value

    @property
    def modelkit_reference(self) -> ModelKitReference:
        return self._modelkit_reference

    @modelkit_reference.setter
    def modelkit_reference(self, value: ModelKitReference) -> None:
        self._modelkit_reference = value

    @property
    def kitfile(self) -> Kitfile | None:
        return self._kitfile

    @kitfile.setter
    def kitfile(self, value: Kitfile | None) -> None:
        self._kitfile = value

    # ---- operations --------------------------------------------------------------------
    def login(self) -> None:
        """Check the credentials against the registry and store them (like ``kit login``).

        ``ValueError`` when there are no credentials or no registry to log in to.
        """
        with self._lock:
            creds = self._credentials(required=True)
            if creds is None or not creds.username or not creds.password:
                raise ValueError("Username and password must be set on the UserCredentials to log in.")
            kit.login(creds.username, creds.password, self._registry(creds), **self._options())

    def inspect_modelkit(self, remote: bool | None = False) -> dict[str, Any]:
        """``kit inspect`` of the ModelKit (local, or from the registry with ``remote``)."""
        with self._lock:
            return kit.inspect(self._tag(), remote=remote, **self._options())

    def pull_and_unpack_modelkit(
        self,
        load_kitfile: bool = False,
        filters: list[str] | None = None,
        with_login_and_logout: bool | None = True,
        *,
        overwrite: bool = False,
        ignore_existing: bool = False,
    ) -> None:
        """Pull the ModelKit and unpack it into the working directory.

        Without ``filters`` the whole ModelKit is pulled into local storage, then unpacked.
        With ``filters`` (kit syntax: ``model``, ``datasets:train``, ``kitfile``) only the
        selected layers are fetched, from the manifest the registry has now. ``overwrite``
        replaces existing files, ``ignore_existing`` keeps them. With ``load_kitfile`` the
        Kitfile of the ModelKit just unpacked becomes :attr:`kitfile`: the file unpacked, or,
        when the filters leave the Kitfile out, the registry's for the same manifest digest
        (never a ``Kitfile`` that was already in the directory).
        """
        from kitops.modelkit.unpack import parse_filters, wants_kitfile

        with self._lock:
            tag = self._tag()
            opts = self._options()
            target = self.working_directory
            with self._session(with_login_and_logout):
                if filters:
                    digest = kit.inspect(tag, remote=True, **opts)["digest"]
                    pinned = ModelKitReference(tag)
                    pinned.digest = digest
                    kit.unpack(
                        pinned.modelkit_tag,
                        target,
                        filters=filters,
                        overwrite=overwrite,
                        ignore_existing=ignore_existing,
                        **opts,
                    )
                    if load_kitfile and not wants_kitfile(parse_filters(filters)):
                        # No Kitfile was unpacked, and one already in the directory may be
                        # another ModelKit's: take the Kitfile of the manifest just unpacked.
                        self._kitfile = Kitfile(**kit.info(pinned.modelkit_tag, remote=True, **opts))
                        return
                else:
                    kit.pull(tag, **opts)
                    kit.unpack(tag, target, overwrite=overwrite, ignore_existing=ignore_existing, **opts)
                if load_kitfile:  # just unpacked: unpack only succeeds when the file is this ModelKit's
                    self._kitfile = Kitfile(Path(target) / "Kitfile")

    def pack_and_push_modelkit(
        self, save_kitfile: bool = False, with_login_and_logout: bool | None = True
    ) -> None:
        """Pack the working directory and push it as the ModelKit.

        With ``save_kitfile`` and a :attr:`kitfile`, that Kitfile is first written to
        ``<working_directory>/Kitfile``, so it is the one packed.
        """
        with self._lock:
            directory = self.working_directory
            if save_kitfile and self._kitfile is not None:
                self._kitfile.save(str(Path(directory) / "Kitfile"), print=False)
            tag = self._tag(for_pack=True)
            opts = self._options()
            with self._session(with_login_and_logout):
                kit.pack(tag, directory, **self._options(network=False))
                kit.push(tag, **opts)

    def remove_modelkit(
        self,
        local: bool | None = False,
        remote: bool | None = False,
        with_login_and_logout: bool | None = True,
    ) -> None:
        """Remove the ModelKit from local storage (``local=True``) and/or its registry (``remote=True``).

        Both default to ``False`` (the reference's docstring said ``local`` defaults to
        ``True``; it never did), in which case nothing happens. Logging in is only
        needed, and only done, for ``remote``.
        """
        with self._lock:
            if not local and not remote:
                return
            tag = self._tag()
            opts = self._options()
            if local:
                kit.remove(tag, **self._options(network=False))
            if remote:
                with self._session(with_login_and_logout):
                    kit.remove(tag, remote=True, **opts)

    # ---- helpers -----------------------------------------------------------------------
    def _options(self, *, network: bool = True) -> dict[str, Any]:
        """Keyword options for the ``kit`` functions: the home, and the network options when they apply."""
        opts: dict[str, Any] = {}
        if self._home is not None:
            opts["home"] = self._home
        if network and self._network is not None:
            opts["network"] = self._network
        return opts

    def _credentials(self, *, required: bool) -> UserCredentials | None:
        if self._user_credentials is not None:
            return self._user_credentials
        try:
            return UserCredentials()
        except ValueError:
            if required:
                raise
            return None

    def _registry(self, creds: UserCredentials | None) -> str:
        registry = self._modelkit_reference.registry or (creds.registry if creds else None)
        registry = registry or environment_values()["registry"]
        if not registry:
            raise ValueError(
                "No registry: give modelkit_tag as 'registry/namespace/repository:tag', or set "
                "UserCredentials(registry=...) or JOZU_REGISTRY."
            )
        return registry

    def _tag(self, *, for_pack: bool = False) -> str:
        """The full reference: the given parts, completed from the credentials and the Kitfile."""
        ref = self._modelkit_reference
        if not any((ref.registry, ref.namespace, ref.repository, ref.tag, ref.digest)):
            raise ValueError("No ModelKit reference: pass modelkit_tag='registry/namespace/repository:tag'.")
        if ref.is_complete:
            return ref.modelkit_tag
        creds = self._credentials(required=False)
        env = environment_values()
        namespace = (creds.namespace or creds.username) if creds else (env["namespace"] or env["username"])
        repository = None
        if ref.repository is None:
            kitfile = self._kitfile if (for_pack and self._kitfile is not None) else self._local_kitfile()
            name = (kitfile.package.name or "") if kitfile is not None else ""
            repository = repository_name(name) or None
        full = ref.with_defaults(registry=self._registry(creds), namespace=namespace, repository=repository)
        try:
            return full.modelkit_tag
        except ValueError as exc:
            raise ValueError(
                f"{exc} The ModelKit reference {ref!r} is incomplete: the repository comes from the tag or "
                "from the Kitfile's package.name in the working directory."
            ) from None

    def _local_kitfile(self) -> Kitfile | None:
        path = Path(self.working_directory) / "Kitfile"
        return Kitfile(path) if path.is_file() else None

    @contextlib.contextmanager
    def _session(self, with_login_and_logout: bool | None) -> Iterator[None]:
        """Log in for the body and afterwards leave the stored credential exactly as it was
        (the reference's logout ended a session the user had before)."""
        if not with_login_and_logout:
            yield
            return
        creds = self._credentials(required=False)
        if creds is None:  # nothing to log in with: a stored session or anonymous access will do
            yield
            return
        from kitops.errors import KitError
        from kitops.registry.credentials import CredentialStore
        from kitops.settings import kitops_home

        registry = self._registry(creds)
        home = kitops_home(self._home)
        store = CredentialStore(home)
        with _session_lock(home, registry):
            try:
                before = store.entry(registry)
            except KitError:  # an unreadable credential file: the login below reports it
                before = None
            self.login()
            try:
                yield
            finally:
                store.put_entry(registry, before)  # the session's entry replaced, or removed
