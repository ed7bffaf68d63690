"""PyKitOps' import path ``kitops.modelkit.kitfile``: the class lives in :mod:`kitops.compat.pykitops.kitfile`."""

from kitops.compat.pykitops.kitfile import Kitfile, KitfileValidationError, read_kitfile_data

__all__ = ["Kitfile", "KitfileValidationError", "read_kitfile_data"]
