"""Exception -> user message, hint and exit code. The only place errors meet the terminal."""

from __future__ import annotations

import sys
import traceback
from typing import TextIO

from kitops.errors import Cancelled, KitError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130


def report(exc: BaseException, *, debug: bool = False, context: str = "", file: TextIO | None = None) -> int:
    """Print ``error: ...`` and ``hint: ...`` on ``file`` (default: stderr); return the exit code."""
    out = file if file is not None else sys.stderr
    if isinstance(exc, KeyboardInterrupt | Cancelled):
        print("error: cancelled; partial output was removed", file=out)
        return EXIT_CANCELLED
    if isinstance(exc, KitError):
        message = exc.message
        hint = exc.hint
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
    return EXIT_ERROR
