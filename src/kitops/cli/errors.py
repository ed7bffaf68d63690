"""Exception -> user message, hint and exit code. The only place errors meet the terminal."""

from __future__ import annotations

import sys
import traceback
from typing import TextIO

import click

from kitops.cli.text import format_bytes
from kitops.errors import Cancelled, KitError, UsageError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130


def help_hint(ctx: click.Context | None) -> str:
    """The hint of a bad command line: where to read how the command is used."""
    if ctx is None:
        return "run 'kit --help' to see the commands and options"
    if isinstance(ctx.command, click.Group):
        return f"run '{ctx.command_path} --help' to see the commands and options"
    usage = ctx.get_usage().removeprefix("Usage: ")
    return f"run '{ctx.command_path} --help' to see its options (usage: {usage})"


def report(
    exc: BaseException,
    *,
    debug: bool = False,
    context: str = "",
    file: TextIO | None = None,
    usage_hint: str | None = None,
) -> int:
    """Print ``error: ...`` and ``hint: ...`` on ``file`` (default: stderr); return the exit code.

    A bad command line (click's usage errors and :class:`kitops.errors.UsageError`) exits 2;
    when it has no hint of its own, it gets ``usage_hint`` (click's: the command's usage).
    """
    out = file if file is not None else sys.stderr
    code = EXIT_ERROR
    if isinstance(exc, KeyboardInterrupt | Cancelled):
        print(f"error: {interrupted_message(exc)}", file=out)
        return EXIT_CANCELLED
    if isinstance(exc, click.UsageError):
        message = exc.format_message()
        hint = getattr(exc, "hint", None) or help_hint(exc.ctx)
        code = EXIT_USAGE
        debug = False  # where click stopped parsing is no use to anyone
    elif isinstance(exc, KitError):
        message = exc.message
        hint = exc.hint
        if isinstance(exc, UsageError):
            hint = hint or usage_hint
            code = EXIT_USAGE
    elif isinstance(exc, PermissionError):
        message = f"permission denied: {exc.filename or exc}"
        hint = "check the file permissions, or choose another directory"
    elif isinstance(exc, FileNotFoundError):
        message = f"no such file or directory: {exc.filename or exc}"
        hint = None
    elif isinstance(exc, OSError):
        message = f"{exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}"
        hint = "check free disk space" if getattr(exc, "errno", None) == 28 else None
    else:
        message = f"unexpected error: {exc!r}"
        hint = "re-run with --debug (or KITOPS_DEBUG=1) and report the traceback"
    if context:
        message = f"{context}: {message}"
    print(f"error: {message}", file=out)
    if hint:
        print(f"hint: {hint}", file=out)
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=out)
    return code


def interrupted_message(exc: BaseException) -> str:
    """What an interrupt leaves behind: a transfer keeps what it moved for the next run."""
    kept = getattr(exc, "kept_bytes", None)
    if kept:
        return f"interrupted; {format_bytes(kept)} kept, re-run to resume"
    if kept == 0:
        return "interrupted; nothing was transferred yet"
    return "interrupted"
