"""Helpers of the PyKitOps layer, at their reference import path ``kitops.modelkit.utils``.

Kept because callers (and the reference's own tests) import them: ``Color``, ``IS_A_TTY``,
``validate_dict``, ``clean_empty_items``, ``get_or_create_directory``, ``parse_modelkit_tag``
and ``load_environment_variables``. Two behaviours are deliberately better than the
reference's (spec §10):

* ``load_environment_variables`` reads ``./.env`` from the current directory (not from the
  installed package's directory) and never overrides or mutates the real environment (W10);
* ``parse_modelkit_tag`` understands partial references, nested namespaces, ports and
  digests, and refuses extra ``:`` parts instead of dropping them (W12).
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

__all__ = [
    "IS_A_TTY",
    "Color",
    "clean_empty_items",
    "get_or_create_directory",
    "load_environment_variables",
    "local_path",
    "parse_modelkit_tag",
    "validate_dict",
]


class Color(Enum):
    """ANSI colour codes (the reference's names); the library itself never writes them into logs."""

    RED = "\033[91m"
    GREEN = "\033[92m"
    YELLOW = "\033[93m"
    CYAN = "\033[96m"
    RESET = "\033[0m"


def _stdout_is_a_tty() -> bool:
    try:
        return sys.stdout is not None and sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout (notebooks, daemons)
        return False


#: Whether stdout was a terminal when this module was imported (the reference's constant).
IS_A_TTY: bool = _stdout_is_a_tty()


def validate_dict(value: dict[str, Any], allowed_keys: set[str]) -> None:
    """Raise ``ValueError`` unless ``value`` is a dict whose keys are all in ``allowed_keys``."""
    if not isinstance(value, dict):
        raise ValueError(f"Expected a dictionary but got {type(value).__name__}")
    unallowed = sorted(set(value) - set(allowed_keys), key=str)
    if unallowed:
        raise ValueError("Found unallowed key(s): " + ", ".join(str(k) for k in unallowed))


def clean_empty_items(d: Any) -> Any:
    """Remove empty strings, ``None`` and containers left empty from nested dicts and lists."""
    if isinstance(d, dict):
        out: dict[Any, Any] = {}
        for k, v in d.items():
            if isinstance(k, str) and not k.strip():
                continue
            cleaned = _clean_value(v)
            if cleaned is not _EMPTY:
                out[k] = cleaned
        return out
    if isinstance(d, list):
        return [c for c in (_clean_value(v) for v in d) if c is not _EMPTY]
    return d


_EMPTY = object()


def _clean_value(v: Any) -> Any:
    if v is None or (isinstance(v, str) and not v.strip()):
        return _EMPTY
    if isinstance(v, dict | list):
        cleaned = clean_empty_items(v)
        return cleaned if cleaned else _EMPTY
    return v


def local_path(directory: str | os.PathLike[str]) -> str:
    """A local directory from a path or a ``file://`` URI (what ``mlflow.get_artifact_uri()`` returns)."""
    text = os.fspath(directory)
    if text.startswith("file:"):
        parsed = urlparse(text)
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"Only local file:// URIs are supported, got {text!r}")
        path = unquote(parsed.path)
        if os.name == "nt" and len(path) > 2 and path[0] == "/" and path[2] == ":":
            path = path[1:]  # file:///C:/x -> C:/x
        return path
    if "://" in text:
        raise ValueError(f"Not a local directory: {text!r} (only paths and file:// URIs are supported)")
    return text


def get_or_create_directory(directory: str) -> str:
    """Create ``directory`` (and parents) if missing; return it as a POSIX-style string."""
    path = Path(local_path(directory))
    path.mkdir(parents=True, exist_ok=True)
    return path.as_posix()


def parse_modelkit_tag(tag: str) -> dict[str, str | None]:
    """Split ``[registry/][namespace/]repository[:tag][@digest]`` into its parts.

    Returns ``{"registry", "namespace", "model", "tag", "digest"}``; parts that are not in
    ``tag`` are ``None`` (the caller decides the defaults). The first component is a
    registry when it looks like a host (contains ``.`` or ``:``, or is ``localhost``),
    as in Docker and kit. Namespaces may be nested (``a/b``). A bare word such as ``v1``
    is a tag. A repository without tag or digest gets ``latest``. Invalid input raises
    ``ValueError("Invalid tag format: ...")``.

    Examples:
        >>> parse_modelkit_tag("jozu.ml/jozu-demos/titanic:latest")["namespace"]
        'jozu-demos'
        >>> parse_modelkit_tag("v1")["tag"]
        'v1'
    """
    from kitops.errors import UsageError
    from kitops.oci.digest import is_digest
    from kitops.oci.reference import parse_single, validate_tag

    text = tag.strip() if isinstance(tag, str) else ""
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"Invalid tag format: {tag!r}")
    digest: str | None = None
    if is_digest(text):  # a bare digest names a manifest, not a tag
        return {"registry": None, "namespace": None, "model": None, "tag": None, "digest": text}
    if "@" in text:
        text, digest = text.split("@", 1)
        if not is_digest(digest):
            raise ValueError(f"Invalid tag format: {tag} (invalid digest {digest!r})")
    version: str | None = None
    head, sep, last = text.rpartition("/")
    if ":" in last:
        last, version = last.split(":", 1)
        if not version or ":" in version:
            raise ValueError(f"Invalid tag format: {tag} (a tag is one ':'-separated part)")
    components = [*head.split("/"), last] if sep else ([last] if last else [])
    if any(not c for c in components):
        raise ValueError(f"Invalid tag format: {tag} (empty path component)")
    registry = namespace = model = None
    if len(components) == 1 and version is None and digest is None:
        version = components[0]  # "v1": just a tag
    elif components:
        rest = components
        if len(components) > 1 and _looks_like_host(components[0]):
            registry, rest = components[0], components[1:]
        model = rest[-1]
        namespace = "/".join(rest[:-1]) or None
        if version is None and digest is None:
            version = "latest"
    try:
        if version is not None:
            validate_tag(version)
        if model is not None:  # repository syntax (lower case, separators) and host syntax, as kit checks them
            path = "/".join(p for p in (namespace, model) if p)
            parse_single(f"{registry or 'registry.invalid'}/{path}" + (f"@{digest}" if digest else ":latest"))
    except UsageError as exc:
        raise ValueError(f"Invalid tag format: {tag} ({exc.message})") from None
    return {"registry": registry, "namespace": namespace, "model": model, "tag": version, "digest": digest}


def _looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


# ---------------------------------------------------------------------------------------------
# environment

ENV_KEYS = {"username": "JOZU_USERNAME", "password": "JOZU_PASSWORD", "registry": "JOZU_REGISTRY",
            "namespace": "JOZU_NAMESPACE"}
MISSING_CREDENTIALS = (
    "Missing JOZU_USERNAME or JOZU_PASSWORD in environment variables. Both are required. "
    "Please set these variables in your .env file and try again."
)


def read_dotenv(path: str | os.PathLike[str] = ".env") -> dict[str, str]:
    """Parse a ``.env`` file (``KEY=value``, ``export KEY=value``, quotes, ``#`` comments).

    A tiny parser rather than python-dotenv: kitops needs four variables and must not
    depend on a package whose only job here is that. Variable expansion is not done.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return {}
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            continue
        value = value.strip()
        if value[:1] in ("'", '"') and value[:1] in value[1:]:
            quote = value[0]
            value = value[1:value.index(quote, 1)]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            hash_at = value.find(" #")
            if hash_at >= 0:
                value = value[:hash_at].rstrip()
        out[key] = value
    return out


def environment_values() -> dict[str, str | None]:
    """The four ``JOZU_*`` values: the real environment first, then ``./.env``; ``None`` if unset.

    Nothing is written to ``os.environ`` (the reference's ``load_dotenv(override=True)``
    replaced variables the user had exported: W10).
    """
    dotenv = read_dotenv(Path.cwd() / ".env")
    return {name: (os.environ.get(var) or dotenv.get(var) or None) for name, var in ENV_KEYS.items()}


def load_environment_variables() -> dict[str, str | None]:
    """``{"username", "password", "registry", "namespace"}`` from ``JOZU_*`` (environment, then ``./.env``).

    Raises ``ValueError`` (the reference's message) when the username or the password is missing.
    """
    values = environment_values()
    if not values["username"] or not values["password"]:
        raise ValueError(MISSING_CREDENTIALS)
    return values
