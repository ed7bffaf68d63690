"""PyKitOps' import path ``kitops.modelkit.reference``: the class lives in :mod:`kitops.compat.pykitops.reference`."""

from kitops.compat.pykitops.reference import ModelKitReference

__all__ = ["ModelKitReference"]
