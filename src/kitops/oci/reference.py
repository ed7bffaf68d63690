"""ModelKit references: parsing and display exactly as the Go CLI (spec §3.3).

``parse_reference`` reproduces the reference's defaulting rules (registry
``localhost``, repository ``_`` for bare digests, tag ``latest``) because the
local store is keyed by ``<registry>/<repository>`` and must stay shareable with
the Go CLI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kitops.errors import UsageError
from kitops.oci.digest import is_digest

DEFAULT_REGISTRY = "localhost"
DEFAULT_REPOSITORY = "_"
DEFAULT_TAG = "latest"

_REPO_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^\w[\w.-]{0,127}$", re.ASCII)
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]|\.+)(?::[0-9]*)?$")


@dataclass(frozen=True)
class Reference:
    """registry + repository + (tag | digest). ``tag`` is None when a digest is given."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repo_key(self) -> str:
        """``<registry>/<repository>``: the key of the per-repo files in the local store."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """The tag or digest part alone (what the registry API calls the reference)."""
        return self.digest or self.tag or ""

    def __str__(self) -> str:
        if self.digest:
            return f"{self.repo_key}@{self.digest}"
        if self.tag:
            return f"{self.repo_key}:{self.tag}"
        return self.repo_key

    def display(self) -> str:
        return display_form(str(self))

    def with_tag(self, tag: str) -> Reference:
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> Reference:
        return replace(self, tag=None, digest=digest)

    @property
    def is_local_only(self) -> bool:
        return self.registry == DEFAULT_REGISTRY


def display_form(text: str) -> str:
    """FormatRepositoryForDisplay: strip ``localhost/``, then ``_``, then ``@``."""
    for prefix in (DEFAULT_REGISTRY + "/", DEFAULT_REPOSITORY, "@"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text


def parse_reference(text: str) -> tuple[Reference, list[str]]:
    """Parse ``[registry/]repository[:tag|@digest][,tag2,...]`` into a reference and extra tags."""
    text = text.strip()
    if is_digest(text):
        return Reference(DEFAULT_REGISTRY, DEFAULT_REPOSITORY, digest=text), []
    first, *extra = text.split(",")
    registry, rest = DEFAULT_REGISTRY, first
    if "/" in first:
        head, tail = first.split("/", 1)
        if ":" in head or "." in head:
            registry, rest = head, tail
    tag: str | None = None
    digest: str | None = None
    repository = rest
    if "@" in rest:
        repository, digest = rest.split("@", 1)
        if ":" in repository:
            repository = repository.split(":", 1)[0]
    elif ":" in rest:
        repository, tag = rest.split(":", 1)
    else:
        tag = DEFAULT_TAG
    _validate(text, registry, repository, tag, digest)
    return Reference(registry, repository, tag, digest), [t.strip() for t in extra]


def parse_single(text: str, *, what: str = "reference") -> Reference:
    """Parse a reference that must not carry extra ``,tag`` parts."""
    ref, extra = parse_reference(text)
    if extra:
        raise UsageError(f"{what} cannot include multiple tags", hint="remove the ',tag' part")
    return ref


def validate_tag(tag: str) -> None:
    if not _TAG_RE.match(tag):
        raise UsageError(
            f"invalid reference: invalid tag {tag!r}",
            hint="tags are up to 128 letters, digits, '_', '.', '-', not starting with '.' or '-'",
        )


def _validate(text: str, registry: str, repository: str, tag: str | None, digest: str | None) -> None:
    if repository.lower() != repository:
        raise UsageError(f"repository ({repository}) name must be lowercase", hint="use lower-case repository names")
    if not re.search(r"[a-z0-9]", repository):
        raise UsageError(f"repository ({repository}) must start and end with a letter or number")
    if not _HOST_RE.match(registry):
        raise UsageError(f'invalid reference: invalid registry "{registry}"')
    if not _REPO_RE.match(repository):
        raise UsageError(
            f'invalid reference: invalid repository "{repository}"',
            hint="repositories are lower-case path components of letters, digits and single '.', '_', '__' or '-' separators",
        )
    if tag is not None:
        validate_tag(tag)
    if digest is not None and not is_digest(digest):
        raise UsageError(f'invalid reference: invalid digest "{digest}"')


def is_modelkit_reference(path: str) -> bool:
    """IsModelKitReference: a Kitfile ``model.path`` that names a ModelKit instead of a file."""
    if ":" not in path and "@" not in path:
        return False
    try:
        parse_reference(path)
    except UsageError:
        return False
    return True
