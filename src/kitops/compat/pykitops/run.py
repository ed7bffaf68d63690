"""``kit._run``: PyKitOps' helper that runs a whole ``kit`` command line.

The reference ran the ``kit`` binary; this runs kitops' own ``kit`` command line the same way,
in a child process of the same Python and the same kitops. The command therefore has streams,
logging, prompts and exit code of its own: nothing of this process (``sys.stdout``, the
``kitops`` logger, other threads) is touched, and calls may run concurrently. Every command and
option of ``kit`` is available, exactly as on a terminal.

The PyKitOps functions (``kit.pack`` …) do not go through here: they call :mod:`kitops.api`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from kitops.compat.pykitops.errors import KitCommandError
from kitops.compat.pykitops.options import masked, scrub

# Named by PyKitOps' import path, where users configure it.
LOG = logging.getLogger("kitops.cli.kit")

# The child's program: kitops' ``kit`` entry point. The current directory, which ``python -c``
# puts first on sys.path, is taken off, so a module there cannot stand in for kitops or click.
_CHILD = "import sys\nif sys.path and sys.path[0] == '': del sys.path[0]\nfrom kitops.cli.main import main\nmain()\n"


def _run(
    command: Sequence[Any], input: str | None = None, verbose: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run a ``kit`` command line (``["kit", "list", "--format", "json"]``) and return its result.

    ``input`` is the command's standard input (never this process's: without it the command
    reads an empty input, so nothing can wait for a keyboard). With ``verbose``, the command line
    and then its output are logged at INFO on ``kitops.cli.kit``, as in the reference. A non-zero
    exit raises :class:`KitCommandError` with the command's ``stdout``, ``stderr`` and its
    ``error:``/``hint:`` lines as ``message`` and ``hint``. The values of password and token
    options (``--password S``, ``--password=S``, ``-pS``, ``--token S`` …) are masked in ``cmd``,
    the result's ``args``, the error and every log line, and a password given on ``input`` with
    ``--password-stdin`` is scrubbed from the output. ``**kwargs`` is ignored, as in the reference.
    """
    args = []
    for i, part in enumerate(command):
        if not isinstance(part, str):  # the reference's TypeError (from " ".join), raised before running
            raise TypeError(f"sequence item {i}: expected str instance, {type(part).__name__} found")
        args.append(part)
    shown, secrets = masked(args)
    if not args or os.path.basename(args[0]) not in ("kit", "kit.exe"):
        raise ValueError(f"not a kit command line: {shown!r}")
    if input and "--password-stdin" in args:
        secrets += [input, input.strip()]
    if verbose:
        LOG.info("%s", "% " + " ".join(shown))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *args[1:]],
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        env=_child_environment(),
        check=False,
    )
    out, err = scrub(done.stdout, secrets), scrub(done.stderr, secrets)
    if done.returncode != 0:
        message, hint = _error_lines(err)
        raise KitCommandError(done.returncode, shown, out, err, message=message or err.strip(), hint=hint)
    if verbose and out.strip():
        LOG.info("%s", out.strip())
    return subprocess.CompletedProcess(shown, 0, out, err)


def _child_environment() -> dict[str, str]:
    """This process's environment, with this kitops first on the path and UTF-8 output."""
    import kitops

    root = os.path.dirname(os.path.dirname(os.path.abspath(kitops.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _error_lines(stderr: str) -> tuple[str, str | None]:
    """The message and hint of a failed command: its ``error:`` and ``hint:`` lines, the form in
    which ``kit`` reports every failure."""
    message, hint = "", None
    for line in stderr.splitlines():
        if line.startswith("error: ") and not message:
            message = line.removeprefix("error: ")
        elif line.startswith("hint: ") and hint is None:
            hint = line.removeprefix("hint: ")
    return message, hint
