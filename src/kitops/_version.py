"""The package version, in a module of its own so that low layers (the registry client's
User-Agent) can name it without importing the package's public API."""

__version__ = "0.1.0"
