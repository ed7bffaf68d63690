"""PyKitOps' import path ``kitops.modelkit.user``: the class lives in :mod:`kitops.compat.pykitops.user`."""

from kitops.compat.pykitops.user import MISSING_MESSAGE, UserCredentials

__all__ = ["MISSING_MESSAGE", "UserCredentials"]
