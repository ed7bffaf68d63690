"""ModelKits: layers, deterministic tar, pack, unpack, reading stored kits.

This package is also the PyKitOps import path ``kitops.modelkit``: its Pydantic
Kitfile models (``Package``, ``CodeEntry``, ``DatasetEntry``, ``DocsEntry``,
``ModelSection``, and, unlike the reference, ``Kitfile``, ``PromptEntry`` and
``ModelPart``) are re-exported *lazily*, because ``kit pack`` imports the core modules
of this package and must not pay for importing pydantic. The modules ``kitfile``,
``manager``, ``reference``, ``user`` and ``utils`` are PyKitOps' import paths too: each
re-exports :mod:`kitops.compat.pykitops`, where the PyKitOps layer lives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitops._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "Package": "kitops.modelkit._pydantic_kit",
    "CodeEntry": "kitops.modelkit._pydantic_kit",
    "DatasetEntry": "kitops.modelkit._pydantic_kit",
    "DocsEntry": "kitops.modelkit._pydantic_kit",
    "ModelSection": "kitops.modelkit._pydantic_kit",
    "PromptEntry": "kitops.modelkit._pydantic_kit",
    "ModelPart": "kitops.modelkit._pydantic_kit",
    "Kitfile": "kitops.compat.pykitops.kitfile",
}

# A tuple, as in the reference, now naming every model a Kitfile is built from.
__all__ = (
    "CodeEntry",
    "DatasetEntry",
    "DocsEntry",
    "Kitfile",
    "ModelPart",
    "ModelSection",
    "Package",
    "PromptEntry",
)

if TYPE_CHECKING:
    from kitops.compat.pykitops.kitfile import Kitfile
    from kitops.modelkit._pydantic_kit import (
        CodeEntry,
        DatasetEntry,
        DocsEntry,
        ModelPart,
        ModelSection,
        Package,
        PromptEntry,
    )


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
