"""PyKitOps' import path ``kitops.modelkit.manager``: the class lives in :mod:`kitops.compat.pykitops.manager`."""

from kitops.compat.pykitops.manager import ModelKitManager, repository_name

__all__ = ["ModelKitManager", "repository_name"]
