"""kitops: pack ML projects into ModelKits (OCI artifacts) and move them through OCI registries.

Importing this package is cheap: the typed API of :mod:`kitops.api` (``kitops.pack``,
``kitops.push``, ...) and the error types are re-exported lazily, so ``import kitops``
loads nothing until a name is used (``kit --version`` and ``import kitops.cli.kit`` stay fast).
The PyKitOps-compatible layer lives at its reference import paths
(:mod:`kitops.cli.kit`, :mod:`kitops.modelkit.manager`, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitops._lazy import lazy_exports
from kitops._version import __version__

# The module that defines each lazily exported name; resolved on first access (PEP 562).
_MODULES: dict[str, tuple[str, ...]] = {
    "kitops.api": (
        "pack",
        "unpack",
        "push",
        "pull",
        "tag",
        "list_modelkits",
        "list_remote",
        "inspect",
        "info",
        "remove",
        "remove_remote",
        "remote_modelkit",
        "diff",
        "login",
        "logout",
        "init",
        "load_kitfile",
        "find_kitfile",
        "filter_kitfile_yaml",
        "cache_info",
        "cache_clear",
        "network_options",
        "InspectResult",
        "TransferResult",
        "Removal",
    ),
    "kitops.errors": (
        "KitError",
        "UsageError",
        "KitfileError",
        "NotFoundError",
        "AlreadyExistsError",
        "IntegrityError",
        "FormatError",
        "TransferError",
        "RegistryError",
        "AuthenticationError",
        "PermissionDeniedError",
        "RemoteNotFoundError",
        "ConnectionDropped",
        "Cancelled",
    ),
    "kitops.netopts": ("NetworkKeywords",),
    "kitops.progress": ("Progress", "Cancel"),
    "kitops.registry.remote": ("NetworkOptions",),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}

# Every name resolves (the reference's __all__ named submodules that do not exist, so ``import *``
# failed there): ``from kitops import *`` works.
__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "Cancel",
    "Cancelled",
    "ConnectionDropped",
    "FormatError",
    "InspectResult",
    "IntegrityError",
    "KitError",
    "KitfileError",
    "NetworkKeywords",
    "NetworkOptions",
    "NotFoundError",
    "PermissionDeniedError",
    "Progress",
    "RegistryError",
    "RemoteNotFoundError",
    "Removal",
    "TransferError",
    "TransferResult",
    "UsageError",
    "__version__",
    "cache_clear",
    "cache_info",
    "diff",
    "filter_kitfile_yaml",
    "find_kitfile",
    "info",
    "init",
    "inspect",
    "list_modelkits",
    "list_remote",
    "load_kitfile",
    "login",
    "logout",
    "network_options",
    "pack",
    "pull",
    "push",
    "remote_modelkit",
    "remove",
    "remove_remote",
    "tag",
    "unpack",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; nothing of this runs at import time
    from kitops.api import (
        InspectResult,
        Removal,
        TransferResult,
        cache_clear,
        cache_info,
        diff,
        filter_kitfile_yaml,
        find_kitfile,
        info,
        init,
        inspect,
        list_modelkits,
        list_remote,
        load_kitfile,
        login,
        logout,
        network_options,
        pack,
        pull,
        push,
        remote_modelkit,
        remove,
        remove_remote,
        tag,
        unpack,
    )
    from kitops.errors import (
        AlreadyExistsError,
        AuthenticationError,
        Cancelled,
        ConnectionDropped,
        FormatError,
        IntegrityError,
        KitError,
        KitfileError,
        NotFoundError,
        PermissionDeniedError,
        RegistryError,
        RemoteNotFoundError,
        TransferError,
        UsageError,
    )
    from kitops.netopts import NetworkKeywords
    from kitops.progress import Cancel, Progress
    from kitops.registry.remote import NetworkOptions


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
