"""Keyword options of the PyKitOps ``kit`` functions, and the command lines they stand for.

The reference turned ``**kwargs`` into ``kit`` options by their raw CLI names (``**{"plain-http":
True}``, ``t="repo:v1"``, ``f=True``). Those keep working, and so do snake_case aliases and options
the reference could not express. ``None`` means "not given", and so does a falsy ``plain_http``
(the reference's rule: a loopback registry then still gets plain HTTP); other ``False``/``0``
values are real values. An unknown keyword is a ``TypeError`` (the reference ignored it silently).

Each call is logged and reported as the ``kit`` command line it is equivalent to; that line
never carries a secret: :func:`masked` is the only masker.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

Spec = Mapping[str, tuple[str, ...]]

# destination -> accepted keys. The first key is the CLI spelling used in the command line.
NETWORK: dict[str, tuple[str, ...]] = {
    "plain_http": ("plain-http", "plain_http"),
    "tls_verify": ("tls-verify", "tls_verify"),
    "ca_file": ("ca-file", "ca_file"),
    "cert": ("cert",),
    "key": ("key",),
    "proxy": ("proxy",),
    "concurrency": ("concurrency",),
    "network": ("network",),
}
GLOBAL: dict[str, tuple[str, ...]] = {"home": ("config", "home")}
# Accepted for compatibility and ignored: verbosity and help only changed what kit printed.
IGNORED = frozenset(
    {
        "h",
        "help",
        "v",
        "vv",
        "vvv",
        "verbose",
        "log-level",
        "log_level",
        "progress",
        "show-update-notifications",
        "show_update_notifications",
    }
)
FLAGS = frozenset({"plain_http", "tls_verify", "force", "all", "remote", "overwrite", "ignore_existing"})

# ---------------------------------------------------------------------------------------------
# secrets on command lines

# Any long option whose name looks like it carries a secret, typos included (``--passwrd``,
# ``--pasword``, ``--access-tokn``): better to mask a harmless value than to log a password.
# ``--password-stdin`` is a flag, not a secret.
_SECRET_LONG = re.compile(
    r"--(?!password-stdin\Z)[\w-]*(?:pass|pasw|pswd|pwd|tok|secret|api[-_]?key|credential)[\w-]*",
    re.IGNORECASE,
)
#: Short options whose value is a secret (``-p S3CRET`` and ``-pS3CRET``).
_SECRET_SHORT = ("-p",)
MASK = "***"
_MIN_SCRUB = 4  # shorter secrets are not searched for in output (it would mangle ordinary text)


def masked(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """``args`` with the value of every password- or token-like option replaced by ``***``, and
    the values replaced. Handles ``--password S``, ``--password=S``, ``-p S`` and ``-pS``."""
    out: list[str] = []
    secrets: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            hide_next = False
            out.append(MASK)
            secrets.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if arg.startswith("--") and _SECRET_LONG.fullmatch(name):
            if eq:
                out.append(f"{name}={MASK}")
                secrets.append(value)
            else:
                out.append(arg)
                hide_next = True
            continue
        short = next((s for s in _SECRET_SHORT if arg.startswith(s)), None)
        if short is not None and arg == short:
            out.append(arg)
            hide_next = True
        elif short is not None:
            out.append(short + MASK)
            secrets.append(arg[len(short) :])
        else:
            out.append(arg)
    return out, secrets


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every occurrence of a secret replaced by ``***`` (defence in depth for output)."""
    for secret in sorted({s for s in secrets if len(s) >= _MIN_SCRUB}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


# ---------------------------------------------------------------------------------------------
# keyword options


def parse_options(func: str, kwargs: Mapping[str, Any], spec: Spec) -> dict[str, Any]:
    """Map keyword arguments to option values (keyed by destination), validating names and types."""
    allowed = {**spec, **GLOBAL}
    by_key = {k: dest for dest, keys in allowed.items() for k in keys}
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in IGNORED or value is None:
            continue
        dest = by_key.get(key)
        if dest is None:
            known = sorted({*by_key, *IGNORED})
            raise TypeError(
                f"{func}() got an unexpected keyword argument {key!r}; accepted: {', '.join(known)}"
            )
        value = _coerce(func, dest, key, value)
        if value is None:
            continue
        if dest in out and out[dest] != value:
            raise TypeError(f"{func}() got conflicting values for {dest!r} (from {key!r})")
        out[dest] = value
    return out


def _coerce(func: str, dest: str, key: str, value: Any) -> Any:
    if dest == "plain_http":
        # Falsy means "not given", as in the reference: the default then applies, which is plain
        # HTTP for loopback registries. (tls_verify=False, in contrast, really means "do not verify".)
        return True if value else None
    if dest in FLAGS:
        return bool(value)
    if dest == "network":
        return value
    if dest == "concurrency":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"{func}(): {key} must be an integer, got {type(value).__name__}")
        try:
            return int(value)
        except ValueError:
            raise TypeError(f"{func}(): {key} must be an integer, got {value!r}") from None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"{func}(): {key} must be a string, got {type(value).__name__}")
    return value or None  # "" means not given, as in the reference


def network_kwargs(opts: Mapping[str, Any]) -> dict[str, Any]:
    """The network keyword arguments of the ``kitops.api`` functions, from parsed options."""
    return {k: opts[k] for k in NETWORK if k in opts}


def command_line(name: str, args: list[str], opts: Mapping[str, Any], spec: Spec) -> list[str]:
    """The ``kit`` command line equivalent to a call, masked (for the log and ``KitCommandError.cmd``)."""
    cmd = ["kit", name, *args]
    for dest, value in opts.items():
        keys = spec.get(dest) or GLOBAL.get(dest)
        if not keys or dest == "network":
            continue
        flag = "--" + (keys[0] if len(keys[0]) > 1 else dest.replace("_", "-"))
        if dest in FLAGS:
            if value:
                cmd.append(flag)
            elif dest == "tls_verify":
                cmd.append(f"{flag}=false")
        else:
            cmd += [flag, str(value)]
    return masked(cmd)[0]


def require_str(func: str, name: str, value: Any) -> str:
    """``value`` as a string (a path-like is accepted); anything else is the reference's ``TypeError``."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"{func}(): {name} must be a string, got {type(value).__name__}")
    return value
