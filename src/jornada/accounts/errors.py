"""What can go wrong with accounts, as errors a person can act on."""

from __future__ import annotations

from jornada.errors import JornadaError

__all__ = ["AccountError", "LastAdminError", "RateLimitedError", "UnknownUserError"]


class AccountError(JornadaError):
    """A user, role, token or password operation that cannot be done, and why."""


class UnknownUserError(AccountError):
    """No account has this e-mail."""


class LastAdminError(AccountError):
    """The change would leave a workspace without an admin."""


class RateLimitedError(AccountError):
    """Too many failed sign-ins: wait ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
