"""Errors of signing and verification, placed in the kitops exception tree so the CLI maps them."""

from __future__ import annotations

from kitops.errors import FormatError, IntegrityError, KitError


class SignatureError(IntegrityError):
    """A signature, a signed payload or an envelope does not check out: a verifier refuses it."""


class KeyFileError(FormatError):
    """A key cannot be read: not PEM, an unknown key type or algorithm, or unsupported encryption."""


class PasswordError(KitError):
    """An encrypted private key needs a password that was not given, or the one given is wrong."""
