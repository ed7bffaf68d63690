"""The one exception tree of kitops.

Library code raises these and never prints; ``kitops.cli`` maps each type to a
message, a one-line hint and an exit code. Every error may carry a ``hint``: the
next thing the user should try, phrased as an instruction.
"""

from __future__ import annotations

from collections.abc import Sequence


class KitError(Exception):
    """Base of every error kitops raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(KitError):
    """The caller asked for something malformed (bad flag value, bad reference...)."""


class KitfileError(KitError):
    """A Kitfile could not be loaded or is invalid; ``problems`` lists every issue found."""

    def __init__(self, message: str, *, problems: Sequence[str] = (), hint: str | None = None) -> None:
        self.problems = list(problems)
        if self.problems:
            message = message + ":\n" + "\n".join(f"  * {p}" for p in self.problems)
        super().__init__(message, hint=hint)


class NotFoundError(KitError):
    """A reference, blob or file that was asked for does not exist."""


class AlreadyExistsError(KitError):
    """Writing would overwrite something the user did not ask to overwrite."""


class IntegrityError(KitError):
    """Content does not match its digest or size, or is structurally unsafe (path traversal...)."""


class FormatError(KitError):
    """Bytes that should be a manifest/config/tar are not what kitops can read."""


class TransferError(KitError):
    """Moving content between stores failed."""


class ConnectionDropped(TransferError):
    """The connection broke in the middle of a body: what arrived is good, the rest can be asked for
    again (a ranged GET), so readers that keep their offset resume instead of failing."""


class RegistryError(TransferError):
    """An OCI registry answered with an error.

    Carries the HTTP method, the URL without secrets, the status and the registry's
    error codes so that callers can branch on them.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        status: int | None = None,
        codes: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.method = method
        self.url = url
        self.status = status
        self.codes = list(codes)


class AuthenticationError(RegistryError):
    """The registry refused our credentials (or wants some)."""


class PermissionDeniedError(RegistryError):
    """Authenticated, but not allowed to do this."""


class RemoteNotFoundError(RegistryError, NotFoundError):
    """The registry does not have the repository, manifest or blob."""


class Cancelled(KitError):
    """The operation was cancelled (Ctrl-C or a cancel token).

    ``kept_bytes`` is what a transfer leaves for the next run to resume from (blobs completed and
    verified, and partial downloads whose prefix is kept); ``None`` when nothing is resumable."""

    def __init__(
        self, message: str = "operation cancelled", *, hint: str | None = None, kept_bytes: int | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.kept_bytes = kept_bytes
