"""Helpers of the PyKitOps layer, served at their reference import path ``kitops.modelkit.utils``.

Kept because callers (and the reference's own tests) import them: ``Color``, ``IS_A_TTY``,
``validate_dict``, ``clean_empty_items``, ``get_or_create_directory``, ``parse_modelkit_tag``
and ``load_environment_variables``. Two behaviours are deliberately better than the
reference's:

* ``load_environment_variables`` reads ``./.env`` from the current directory (not from the
  installed package's directory), as python-dotenv parses it, and never overrides or
  mutates the real environment; an unreadable ``.env`` counts as none;
* ``parse_modelkit_tag`` parses with kit's own reference parser (:mod:`kitops.oci.reference`)
  and also understands partial references (``v1``, ``repo:v1``); nested namespaces, ports and
  digests work, and extra ``:`` parts are refused instead of dropped.
"""

from __future__ import annotations

import logging
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
    "parse_dotenv",
    "parse_modelkit_tag",
    "validate_dict",
]

# Named by PyKitOps' import path, where users configure it.
log = logging.getLogger("kitops.modelkit.utils")


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

    Returns ``{"registry", "namespace", "model", "tag", "digest"}``. The reference is parsed
    by :func:`kitops.oci.reference.parse_single`, the parser every ``kit`` command uses, so
    both always agree: the registry is the first component only when kit takes it as one
    (it contains ``.`` or ``:``; ``localhost/x`` is the repository ``localhost/x``, a kit
    quirk), ``model`` is the last component of kit's repository path and ``namespace`` the
    components before it (possibly nested, ``a/b``). With a digest kit ignores any tag, and
    so does this. What is local is only the handling of partial references: a registry the
    text does not name is ``None`` (the caller decides the default), a single word such as
    ``v1`` is a tag and a bare digest is a digest. Invalid input raises
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
    none: dict[str, str | None] = {
        "registry": None,
        "namespace": None,
        "model": None,
        "tag": None,
        "digest": None,
    }
    try:
        if is_digest(text):  # a bare digest names a manifest, not a repository
            return {**none, "digest": text}
        if not any(c in text for c in "/:@,"):  # "v1": just a tag
            validate_tag(text)
            return {**none, "tag": text}
        ref = parse_single(text)
    except UsageError as exc:
        raise ValueError(f"Invalid tag format: {tag} ({exc.message})") from None
    # A registry the text does not start with is kit's default, not the user's choice: leave it open.
    # (``localhost/ns/repo`` does start with kit's registry ``localhost``, whose repository is
    # ``localhost/ns/repo``; ModelKitReference writes such a reference back unchanged.)
    written = text.startswith(f"{ref.registry}/")
    namespace, _, model = ref.repository.rpartition("/")
    return {
        "registry": ref.registry if written else None,
        "namespace": namespace or None,
        "model": model,
        "tag": ref.tag,
        "digest": ref.digest,
    }


# ---------------------------------------------------------------------------------------------
# environment

ENV_KEYS = {
    "username": "JOZU_USERNAME",
    "password": "JOZU_PASSWORD",
    "registry": "JOZU_REGISTRY",
    "namespace": "JOZU_NAMESPACE",
}
MISSING_CREDENTIALS = (
    "Missing JOZU_USERNAME or JOZU_PASSWORD in environment variables. Both are required. "
    "Please set these variables in your .env file and try again."
)


def read_dotenv(path: str | os.PathLike[str] = ".env") -> dict[str, str]:
    """The variables a ``.env`` file sets, read as python-dotenv reads them (without expansion).

    A small parser rather than python-dotenv: kitops needs four variables and must not
    depend on a package whose only job here is that. See :func:`parse_dotenv` for the
    syntax. A file that cannot be read (missing, a directory, no permission, not UTF-8)
    counts as no ``.env``: it is logged at DEBUG, without its content, and ``{}`` is returned.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        reason = (
            "it is not UTF-8 text"
            if isinstance(exc, UnicodeDecodeError)
            else (exc.strerror or type(exc).__name__)
        )
        log.debug("ignoring %s: %s", path, reason)
        return {}
    return parse_dotenv(text)


class _DotenvSyntaxError(Exception):
    def __init__(self, at: int) -> None:
        super().__init__(at)
        self.at = at


_DOUBLE_QUOTE_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}
_SINGLE_QUOTE_ESCAPES = {"\\": "\\", "'": "'"}


def parse_dotenv(text: str) -> dict[str, str]:
    r"""Parse ``.env`` text with python-dotenv's rules; variables are not expanded.

    ``KEY=value`` or ``export KEY=value``; ``#`` starts a comment at the start of a line or,
    in an unquoted value, after whitespace. Quoted values may span lines and end at the
    first quote that is not escaped by a backslash. In double quotes ``\\``, ``\'``, ``\"``,
    ``\n``, ``\t``, ``\r``, ``\a``, ``\b``, ``\f`` and ``\v`` are decoded; in single quotes
    only ``\\`` and ``\'``; other backslashes stay as written. A statement python-dotenv
    cannot parse (an unterminated quote, text after a closing quote) sets nothing, and
    parsing goes on with the next line. A key without ``=`` sets nothing, and cancels an
    earlier value of that key (python-dotenv then sets nothing for it either).
    """
    out: dict[str, str] = {}
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            return out
        try:
            key, value, pos = _dotenv_statement(text, pos)
        except _DotenvSyntaxError as exc:  # skip the rest of the line where parsing stopped
            pos = exc.at
            while pos < end and text[pos] not in "\r\n":
                pos += 1
            continue
        if key is not None and value is not None:
            out[key] = value
        elif key is not None:  # a later bare "KEY" unsets it, as with python-dotenv
            out.pop(key, None)


def _dotenv_statement(text: str, pos: int) -> tuple[str | None, str | None, int]:
    """One statement from ``pos`` (at a non-space character): ``(key, value, position after it)``."""
    end = len(text)

    def blanks(p: int) -> int:  # past spaces and tabs, not line breaks
        while p < end and text[p].isspace() and text[p] not in "\r\n":
            p += 1
        return p

    if text.startswith("export", pos) and blanks(pos + 6) > pos + 6:
        pos = blanks(pos + 6)
    key: str | None = None
    value: str | None = None
    if pos < end and text[pos] == "'":
        close = text.find("'", pos + 1)
        if close <= pos + 1:
            raise _DotenvSyntaxError(pos)
        key, pos = text[pos + 1 : close], close + 1
    elif pos < end and text[pos] != "#":
        start = pos
        while pos < end and text[pos] not in "=#" and not text[pos].isspace():
            pos += 1
        if pos == start:
            raise _DotenvSyntaxError(pos)
        key = text[start:pos]
    if key is not None:
        pos = blanks(pos)
        if pos < end and text[pos] == "=":
            after = blanks(pos + 1)
            if after > pos + 1 and after < end and text[after] == "#":  # "KEY= # comment": empty
                value, pos = "", after
            else:
                value, pos = _dotenv_value(text, after)
    # then an optional comment and the end of the line
    pos = blanks(pos)
    if pos < end and text[pos] == "#":
        while pos < end and text[pos] not in "\r\n":
            pos += 1
    if pos < end and text[pos] not in "\r\n":
        raise _DotenvSyntaxError(pos)
    return key, value, pos


def _dotenv_value(text: str, pos: int) -> tuple[str, int]:
    end = len(text)
    quote = text[pos] if pos < end else ""
    if quote not in ("'", '"'):
        stop = pos
        while stop < end and text[stop] not in "\r\n":
            stop += 1
        line = text[pos:stop]
        for i in range(1, len(line)):  # a comment starts at a "#" after whitespace
            if line[i] == "#" and line[i - 1].isspace():
                line = line[:i]
                break
        return line.rstrip(), stop
    escapes = _DOUBLE_QUOTE_ESCAPES if quote == '"' else _SINGLE_QUOTE_ESCAPES
    chars: list[str] = []
    i = pos + 1
    while i < end:
        c = text[i]
        if c == quote:
            return "".join(chars), i + 1
        if c == "\\":
            if i + 1 >= end:
                break
            nxt = text[i + 1]
            chars.append(escapes.get(nxt, c + nxt))  # unknown escapes stay as written
            i += 2
            continue
        chars.append(c)
        i += 1
    raise _DotenvSyntaxError(pos)  # no closing quote


def environment_values() -> dict[str, str | None]:
    """The four ``JOZU_*`` values: the real environment first, then ``./.env``; ``None`` if unset.

    Nothing is written to ``os.environ`` (the reference's ``load_dotenv(override=True)``
    replaced variables the user had exported).
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
