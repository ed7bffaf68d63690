"""``KitCommandError``: how a failed PyKitOps ``kit`` function reports, and the one mapping to it.

PyKitOps ran the ``kit`` binary, so callers catch ``subprocess.CalledProcessError``; kitops'
own code raises typed :class:`kitops.errors.KitError` subclasses. :meth:`KitCommandError.from_exception`
turns the second into the first, with the exit code the ``kit`` command line would have given.
"""

from __future__ import annotations

import subprocess
from typing import Any

from kitops.compat.pykitops.options import masked
from kitops.errors import Cancelled, KitError, UsageError

# The exit codes of the kit command line (kitops.cli.errors), repeated here so that the PyKitOps
# functions do not import click; a test keeps the two in step.
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130


class KitCommandError(subprocess.CalledProcessError, KitError):
    """A ``kit`` command failed: a ``CalledProcessError`` with a useful ``stderr`` and message.

    ``returncode`` is what the ``kit`` CLI would exit with (1; 2 for a usage error; 130 when
    cancelled), ``cmd`` the equivalent command line (the values of password and token options
    masked as ``***``), ``stderr`` the CLI's ``error: … / hint: …`` text,
    ``message``/``hint`` as on every :class:`KitError`, and ``error`` the original exception.
    """

    def __init__(
        self,
        returncode: int,
        cmd: list[str],
        output: str = "",
        stderr: str = "",
        *,
        message: str = "",
        hint: str | None = None,
        error: BaseException | None = None,
    ) -> None:
        if isinstance(cmd, list | tuple):  # never keep a secret, whoever builds the error
            cmd = masked([str(c) for c in cmd])[0]
        subprocess.CalledProcessError.__init__(self, returncode, cmd, output, stderr)
        self.message = message or (stderr.strip() or f"exit status {returncode}")
        self.hint = hint
        self.error = error

    def __str__(self) -> str:
        text = f"Command '{' '.join(str(c) for c in self.cmd)}' failed (exit status {self.returncode}): {self.message}"
        return f"{text}\nhint: {self.hint}" if self.hint else text

    def __reduce__(self) -> tuple[Any, ...]:  # picklable although __init__ takes keywords
        return (
            _rebuild_error,
            (self.returncode, self.cmd, self.output, self.stderr, self.message, self.hint),
        )

    @classmethod
    def from_exception(cls, exc: BaseException, cmd: list[str], context: str = "") -> KitCommandError:
        """The error for ``exc`` raised while running ``cmd``: its message (prefixed by ``context``,
        as the CLI prefixes it) and hint, and the CLI's exit code for it."""
        message, hint = _describe(exc)
        text = f"{context}: {message}" if context else message
        stderr = f"error: {text}\n" + (f"hint: {hint}\n" if hint else "")
        return cls(exit_code(exc), cmd, "", stderr, message=text, hint=hint, error=exc)


def exit_code(exc: BaseException) -> int:
    """The ``kit`` command line's exit code for ``exc``."""
    if isinstance(exc, Cancelled | KeyboardInterrupt):
        return EXIT_CANCELLED
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    return EXIT_ERROR


def _rebuild_error(
    returncode: int, cmd: list[str], output: str, stderr: str, message: str, hint: str | None
) -> KitCommandError:
    return KitCommandError(returncode, cmd, output, stderr, message=message, hint=hint)


def _describe(exc: BaseException) -> tuple[str, str | None]:
    if isinstance(exc, KitError):
        return exc.message, exc.hint
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}", None
    return str(exc), None
