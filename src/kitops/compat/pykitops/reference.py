"""``ModelKitReference``: a ModelKit reference split into registry, namespace, repository, tag.

PyKitOps' class, served at ``kitops.modelkit.reference``. Fixes over the reference: partial references (``v1``, ``repo:tag``,
``ns/repo:tag``) are accepted and filled in later with :meth:`ModelKitReference.with_defaults`
(the manager does this from the credentials and the Kitfile); namespaces may be nested;
``repo@sha256:…`` digests work; extra ``:`` parts are an error instead of being dropped;
the class has ``__str__``, ``__repr__``, ``__eq__`` and a ``__hash__`` consistent with it.
Parsing is kit's own (:mod:`kitops.oci.reference`), so :attr:`ModelKitReference.modelkit_tag`
always names the ModelKit kit would find for the text that was parsed.
"""

from __future__ import annotations

from typing import Any

from kitops.compat.pykitops.utils import parse_modelkit_tag
from kitops.oci.reference import DEFAULT_REGISTRY

__all__ = ["ModelKitReference"]


def _check(value: Any, message: str, *, allow_none: bool = True) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise ValueError(message)
    return value


class ModelKitReference:
    """``registry/namespace/repository:tag`` (or ``@digest``), with each part settable.

    Examples:
        >>> ref = ModelKitReference("jozu.ml/brett/titanic:latest")
        >>> (ref.registry, ref.namespace, ref.repository, ref.tag)
        ('jozu.ml', 'brett', 'titanic', 'latest')
        >>> ModelKitReference("v1").with_defaults(registry="reg.example", namespace="me", repository="m").modelkit_tag
        'reg.example/me/m:v1'
    """

    def __init__(self, modelkit_tag: str | None = None) -> None:
        self._registry: str | None = None
        self._namespace: str | None = None
        self._repository: str | None = None
        self._tag: str | None = None
        self._digest: str | None = None
        if not modelkit_tag:
            return
        try:
            parts = parse_modelkit_tag(modelkit_tag)
        except ValueError as exc:
            raise ValueError(f"Error parsing modelkit tag: {modelkit_tag}") from exc
        self._registry = parts["registry"]
        self._namespace = parts["namespace"]
        self._repository = parts["model"]
        self._tag = parts["tag"]
        self._digest = parts["digest"]

    # ---- parts -------------------------------------------------------------------------
    @property
    def registry(self) -> str | None:
        return self._registry

    @registry.setter
    def registry(self, value: str | None) -> None:
        self._registry = _check(value, "Registry must be a string or None")

    @property
    def namespace(self) -> str | None:
        return self._namespace

    @namespace.setter
    def namespace(self, value: str | None) -> None:
        self._namespace = _check(value, "Namespace must be a string or None.")

    @property
    def repository(self) -> str | None:
        return self._repository

    @repository.setter
    def repository(self, value: str | None) -> None:
        self._repository = _check(value, "Model name must be a string.")

    @property
    def tag(self) -> str | None:
        return self._tag

    @tag.setter
    def tag(self, value: str | None) -> None:
        self._tag = _check(value, "Tag must be a string or None.")

    @property
    def digest(self) -> str | None:
        """``sha256:…`` when the reference names a manifest by digest (not in the reference SDK)."""
        return self._digest

    @digest.setter
    def digest(self, value: str | None) -> None:
        self._digest = _check(value, "Digest must be a string or None.")

    # ---- whole reference ---------------------------------------------------------------
    @property
    def modelkit_tag(self) -> str:
        """``registry/[namespace/]repository:tag`` (or ``@digest``); ``ValueError`` naming the first missing part.

        Unlike the reference, the namespace is optional (``ghcr.io/model:v1`` is a valid reference).
        """
        if not self._registry:
            raise ValueError("Registry must be set to a non-empty string.")
        if not self._repository:
            raise ValueError("Repository must be set to a non-empty string.")
        if not self._tag and not self._digest:
            raise ValueError("tag must be set to a non-empty string.")
        # kit never reads a leading "localhost/" as the registry (it is its default registry and
        # "localhost/x" is the repository "localhost/x"), so the local registry is written by
        # leaving it out: the text parses back (kitops.oci.reference) to exactly these parts.
        registry = None if self._registry == DEFAULT_REGISTRY else self._registry
        path = "/".join(p for p in (registry, self._namespace, self._repository) if p)
        return f"{path}@{self._digest}" if self._digest else f"{path}:{self._tag}"

    @property
    def is_complete(self) -> bool:
        """Whether :attr:`modelkit_tag` can be built without defaults."""
        return bool(self._registry and self._repository and (self._tag or self._digest))

    def with_defaults(
        self,
        *,
        registry: str | None = None,
        namespace: str | None = None,
        repository: str | None = None,
        tag: str = "latest",
    ) -> ModelKitReference:
        """A copy with the missing parts filled in.

        The namespace default applies only when the registry is missing too: a reference
        that names its registry (``ghcr.io/model:v1``) is taken as written.
        """
        out = ModelKitReference()
        out._registry = self._registry or registry
        explicit_registry = bool(self._registry)
        out._namespace = self._namespace if (self._namespace or explicit_registry) else (namespace or None)
        out._repository = self._repository or repository
        out._digest = self._digest
        out._tag = self._tag or (None if self._digest else tag)
        return out

    def __str__(self) -> str:
        try:
            return self.modelkit_tag
        except ValueError:
            return repr(self)

    def __repr__(self) -> str:
        return (
            f"ModelKitReference(registry={self._registry!r}, namespace={self._namespace!r}, "
            f"repository={self._repository!r}, tag={self._tag!r}, digest={self._digest!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelKitReference):
            return NotImplemented
        return self._parts() == other._parts()

    def __hash__(self) -> int:
        # Equal references hash alike, so they work in sets and as dict keys (the reference's
        # class hashed by identity). The parts are settable: do not change a reference while
        # it is a key.
        return hash(self._parts())

    def _parts(self) -> tuple[str | None, ...]:
        return (self._registry, self._namespace, self._repository, self._tag, self._digest)
