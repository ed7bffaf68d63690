"""``kit import`` from Hugging Face, under its earlier import path.

The import lives in :func:`kitops.api.import_hf` (packing) and :mod:`kitops.importers` (fetching
and staging); these names stay importable from here for code written against earlier releases.
"""

from __future__ import annotations

from kitops.api import import_hf
from kitops.importers.cards import build_kitfile, card_metadata
from kitops.importers.hfhub import INSTALL_HINT
from kitops.importers.staging import ImportedModelKit

__all__ = ["INSTALL_HINT", "ImportedModelKit", "build_kitfile", "card_metadata", "import_hf"]
