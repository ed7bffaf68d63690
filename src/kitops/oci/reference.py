"""ModelKit references: parsing and display exactly as the Go CLI.

``parse_reference`` reproduces the reference's defaulting rules (registry
``localhost``, repository ``_`` for bare digests, tag ``latest``) because the
local store is keyed by ``<registry>/<repository>`` and must stay shareable with
the Go CLI.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from kitops.errors import UsageError
from kitops.oci.digest import is_digest

DEFAULT_REGISTRY = "localhost"
DEFAULT_REPOSITORY = "_"
DEFAULT_TAG = "latest"

# Bounds on what a reference may be. The Go CLI has none of its own, but distribution refuses a
# name (registry/repository) over 255 characters (reference.NameTotalLengthMax), a DNS name is at
# most 253 characters of labels of 1..63, and a port is 0..65535; beyond those a reference can
# only fail later, and worse (a socket error, a file name too long in the local store).
MAX_REFERENCE_LENGTH = 4096  # the whole text, extra ",tag" parts included
MAX_NAME_LENGTH = 255  # "<registry>/<repository>"
MAX_HOST_LENGTH = 253
MAX_LABEL_LENGTH = 63
MAX_PORT = 65535

# The Go patterns, matched with ``fullmatch`` only: Python's ``$`` also matches before a final
# "\n", which let "demo:v1\n" through as a tag. The repository pattern is oras-go's
# ``[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`` per component with ``[-]*`` written ``-+``: the
# same language (zero dashes just joins two runs), but without the nested ``[a-z0-9]+`` under
# a ``*`` that makes Python's backtracking engine exponential on a near miss (Go's RE2 is linear).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
_LABEL_RE = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_LABEL_LENGTH}}}")
_DOTS_RE = re.compile(r"\.+")
_IPV6_RE = re.compile(r"\[[0-9A-Fa-f:.]+\]")


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
    """Parse ``[registry/]repository[:tag|@digest][,tag2,...]`` into a reference and extra tags.

    Raises :class:`UsageError` (with a hint) for anything the Go CLI or a registry would refuse,
    and for text no registry could serve: whitespace or control characters anywhere (nothing
    is stripped: ``"demo:v1\\n"`` is not ``demo:v1``), over-long text, a port past 65535, a
    host name with an empty or over-long label.
    """
    return _parse(text, lenient_registry=False)


def _parse(text: str, *, lenient_registry: bool) -> tuple[Reference, list[str]]:
    _check_text(text)
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
    _validate(registry, repository, tag, digest, lenient_registry=lenient_registry)
    return Reference(registry, repository, tag, digest), extra


def parse_single(text: str, *, what: str = "reference") -> Reference:
    """Parse a reference that must not carry extra ``,tag`` parts."""
    ref, extra = parse_reference(text)
    if extra:
        raise UsageError(f"{what} cannot include multiple tags", hint="remove the ',tag' part")
    return ref


def is_valid_tag(tag: str) -> bool:
    """oras-go's tag rule: up to 128 of ``[A-Za-z0-9_.-]``, not starting with '.' or '-'."""
    return isinstance(tag, str) and _TAG_RE.fullmatch(tag) is not None


def validate_tag(tag: str) -> None:
    if not is_valid_tag(tag):
        raise UsageError(
            f"invalid reference: invalid tag {_shown(tag)}",
            hint="tags are up to 128 letters, digits, '_', '.', '-', not starting with '.' or '-'",
        )


_REFERENCE_HINT = "a reference is [registry/]repository[:tag|@digest], for example ghcr.io/org/model:v1"


def _shown(text: str, limit: int = 80) -> str:
    """``text`` quoted for an error message: escaped, and cut short when long."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def _check_text(text: str) -> None:
    """What no part of a reference may hold, checked before any splitting."""
    if not isinstance(text, str):
        raise UsageError(f"invalid reference: expected text, got {type(text).__name__}", hint=_REFERENCE_HINT)
    if len(text) > MAX_REFERENCE_LENGTH:
        raise UsageError(
            f"invalid reference: reference is too long ({len(text)} characters, the limit is {MAX_REFERENCE_LENGTH})",
            hint=_REFERENCE_HINT,
        )
    for pos, ch in enumerate(text):
        if ch.isspace() or not ch.isprintable():
            raise UsageError(
                f"invalid reference: contains a control character or whitespace (U+{ord(ch):04X} at offset {pos})",
                hint="remove it (a stray newline or space from a file or a variable?); " + _REFERENCE_HINT,
            )


def _registry_problem(registry: str, *, lenient: bool) -> str | None:
    """Why ``registry`` (``host[:port]``) cannot be used, or None when it can.

    oras-go's rule is only that ``dummy://<registry>`` parses back to the same host; on top of
    it a port must be 0..65535 and a host name must be one a resolver accepts (labels of 1..63
    characters), else the request fails later with a low-level error. A host of dots alone
    (``./models/x:tag`` read as registry ``.``) is kept in ``lenient`` mode: the Go CLI takes
    such a Kitfile model path for a reference, and so does :func:`is_modelkit_reference`.
    """
    host, port = registry, None
    if registry.startswith("["):
        end = registry.find("]")
        if end < 0:
            return "the registry's IPv6 address needs its closing ']'"
        host, after = registry[: end + 1], registry[end + 1 :]
        if not _IPV6_RE.fullmatch(host):  # no zone ("%eth0"): Go wants it escaped, httpx refuses it
            return "the registry's address in [...] is not an IPv6 address"
        if after:
            if not after.startswith(":"):
                return "only a :port may follow the registry's IPv6 address"
            port = after[1:]
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return "the registry's address in [...] is not an IPv6 address"
    else:
        if ":" in registry:
            host, port = registry.split(":", 1)
        if lenient and _DOTS_RE.fullmatch(host):
            pass
        elif len(host) > MAX_HOST_LENGTH:
            return f"a registry host name is at most {MAX_HOST_LENGTH} characters"
        elif not all(_LABEL_RE.fullmatch(label) for label in host.split(".")):
            return (
                f"a registry host name is dot-separated labels of 1 to {MAX_LABEL_LENGTH} letters, "
                "digits, '-' or '_', with no empty label"
            )
        elif not host[0].isalnum() or not host[-1].isalnum():
            return "a registry host name starts and ends with a letter or digit"
    if port:  # "host:" (an empty port) is accepted, as by Go's url.Parse: the scheme's default port
        if not (port.isascii() and port.isdigit()):
            return "the registry's port must be a number"
        if len(port) > 5 or int(port) > MAX_PORT:
            return f"the registry's port must be between 0 and {MAX_PORT}"
    return None


def _validate(
    registry: str, repository: str, tag: str | None, digest: str | None, *, lenient_registry: bool = False
) -> None:
    if len(registry) + 1 + len(repository) > MAX_NAME_LENGTH:
        raise UsageError(
            f"invalid reference: name is too long ({len(registry) + 1 + len(repository)} characters as "
            f"{_shown(registry + '/' + repository, 40)}, the limit is {MAX_NAME_LENGTH})",
            hint=f"registries refuse a registry/repository name over {MAX_NAME_LENGTH} characters; use a shorter one",
        )
    if repository.lower() != repository:
        raise UsageError(
            f"repository ({repository}) name must be lowercase", hint="use lower-case repository names"
        )
    if not re.search(r"[a-z0-9]", repository):
        raise UsageError(
            f"repository ({repository}) must start and end with a letter or number", hint=_REFERENCE_HINT
        )
    problem = _registry_problem(registry, lenient=lenient_registry)
    if problem is not None:
        raise UsageError(f'invalid reference: invalid registry "{registry}"', hint=problem)
    if not _REPO_RE.fullmatch(repository):
        raise UsageError(
            f'invalid reference: invalid repository "{repository}"',
            hint="repositories are lower-case path components of letters, digits and single '.', '_', '__' or '-' separators",
        )
    if tag is not None:
        validate_tag(tag)
    if digest is not None and not is_digest(digest):
        raise UsageError(
            f"invalid reference: invalid digest {_shown(digest)}",
            hint="a digest looks like sha256:<64 lower-case hex characters>",
        )


def is_modelkit_reference(path: str) -> bool:
    """IsModelKitReference: a Kitfile ``model.path`` that names a ModelKit instead of a file."""
    if ":" not in path and "@" not in path:
        return False
    try:
        _parse(path, lenient_registry=True)
    except UsageError:
        return False
    return True
