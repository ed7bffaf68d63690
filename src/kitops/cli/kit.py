"""PyKitOps' import path ``kitops.cli.kit``: the functions live in :mod:`kitops.compat.pykitops.kit`,
and this module re-exports exactly what that module lists in its ``__all__``."""

from kitops.compat.pykitops.kit import *  # noqa: F403
from kitops.compat.pykitops.kit import __all__ as __all__
