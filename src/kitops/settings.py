"""Where kitops keeps its state, resolved on demand (never at import time).

Resolution matches the Go CLI so both CLIs share one ``$KITOPS_HOME``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kitops.errors import UsageError

CLI_VERSION = "1.7.0-py"  # written into the ml.kitops.modelkit.cli-version annotation


def kitops_home(config: str | os.PathLike[str] | None = None) -> Path:
    """``--config`` dir, else ``$KITOPS_HOME``, else the OS default (XDG data dir on Linux)."""
    if config:
        return Path(config).expanduser().absolute()
    env = os.environ.get("KITOPS_HOME")
    if env:
        return Path(env).expanduser().absolute()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "kitops"
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        if not local:
            raise UsageError("Failed to read base config directory", hint=_HOME_HINT)
        return Path(local) / "kitops"
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg) / "kitops"
    home = os.environ.get("HOME")
    if not home:
        raise UsageError("Failed to read base config directory", hint=_HOME_HINT)
    return Path(home) / ".local" / "share" / "kitops"


_HOME_HINT = "use the --config flag or set the $KITOPS_HOME environment variable"


def storage_dir(home: Path) -> Path:
    return home / "storage"


def cache_dir(home: Path) -> Path:
    return home / "cache"
