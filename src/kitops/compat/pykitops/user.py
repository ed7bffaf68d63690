"""``UserCredentials``: registry credentials for ``ModelKitManager`` (PyKitOps' class, served at
``kitops.modelkit.user``).

Each part is the argument when given, else ``JOZU_USERNAME`` / ``JOZU_PASSWORD`` /
``JOZU_REGISTRY`` / ``JOZU_NAMESPACE`` from the real environment, else from ``./.env``
(which never overrides the environment). Fixes over the reference:

* parts are resolved one by one, so ``UserCredentials(username="bob")`` with only
  ``JOZU_PASSWORD`` set works (the KitOps MLflow docs rely on that; the reference raised);
* ``registry`` and ``namespace`` are always read and the manager uses them;
* a wrong type raises its own message instead of "must be provided";
* ``None`` means "not given"; an explicit empty string is not silently replaced.
"""

from __future__ import annotations

from typing import Any

from kitops.compat.pykitops.utils import ENV_KEYS, MISSING_CREDENTIALS, environment_values

__all__ = ["UserCredentials"]

MISSING_MESSAGE = "Username and password must be provided either as arguments or in environment variables."


def _check(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string or None. Received: {type(value)}")
    return value


class UserCredentials:
    """Username and password (required), registry and namespace (optional) for one registry.

    Examples:
        >>> creds = UserCredentials(username="bob", password="pw", registry="registry.example.com")
        >>> creds.username, creds.registry
        ('bob', 'registry.example.com')
    """

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        registry: str | None = None,
        namespace: str | None = None,
    ) -> None:
        given = {
            "username": _check("Username", username),
            "password": _check("Password", password),
            "registry": _check("Registry", registry),
            "namespace": _check("Namespace", namespace),
        }
        env: dict[str, str | None] = {}
        if any(v is None for v in given.values()):
            env = environment_values()
        values = {k: v if v is not None else env.get(k) for k, v in given.items()}
        missing = [ENV_KEYS[k] for k in ("username", "password") if not values[k]]
        if missing:
            raise ValueError(f"{MISSING_MESSAGE} Missing: {', '.join(missing)}.") from ValueError(
                MISSING_CREDENTIALS
            )
        self._username: str | None = values["username"]
        self._password: str | None = values["password"]
        self._registry: str | None = values["registry"]
        self._namespace: str | None = values["namespace"]

    @property
    def username(self) -> str | None:
        return self._username

    @username.setter
    def username(self, value: str | None) -> None:
        self._username = _check("Username", value)

    @property
    def password(self) -> str | None:
        return self._password

    @password.setter
    def password(self, value: str | None) -> None:
        self._password = _check("Password", value)

    @property
    def registry(self) -> str | None:
        return self._registry

    @registry.setter
    def registry(self, value: str | None) -> None:
        self._registry = _check("Registry", value)

    @property
    def namespace(self) -> str | None:
        return self._namespace

    @namespace.setter
    def namespace(self, value: str | None) -> None:
        self._namespace = _check("Namespace", value)

    def __repr__(self) -> str:  # never show the password
        return (
            f"UserCredentials(username={self._username!r}, password={'***' if self._password else None}, "
            f"registry={self._registry!r}, namespace={self._namespace!r})"
        )
