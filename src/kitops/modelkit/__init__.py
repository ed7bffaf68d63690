"""ModelKits: layers, deterministic tar, pack, unpack, reading stored kits.

This package is also the PyKitOps import path ``kitops.modelkit``: its Pydantic
Kitfile models (``Package``, ``CodeEntry``, ``DatasetEntry``, ``DocsEntry``,
``ModelSection``, and, unlike the reference (W21), ``Kitfile``, ``PromptEntry`` and
``ModelPart``) are re-exported *lazily*, because ``kit pack`` imports the core modules
of this package and must not pay for importing pydantic.
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
    "Kitfile": "kitops.modelkit.kitfile",
}

# A tuple, as in the reference, now naming every model a Kitfile is built from.
__all__ = ("CodeEntry", "DatasetEntry", "DocsEntry", "Kitfile", "ModelPart", "ModelSection", "Package", "PromptEntry")

if TYPE_CHECKING:
    from kitops.modelkit._pydantic_kit import (
        CodeEntry,
        DatasetEntry,
        DocsEntry,
        ModelPart,
        ModelSection,
        Package,
        PromptEntry,
    )
    from kitops.modelkit.kitfile import Kitfile


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
