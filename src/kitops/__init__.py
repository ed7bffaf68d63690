"""kitops: pack ML projects into ModelKits (OCI artifacts) and move them through OCI registries.

Importing this package is cheap; the API functions live in :mod:`kitops.api`.
"""

__version__ = "0.1.0"
