"""Auth domain errors; `api.py` maps each to an HTTP status in one handler."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kinoteka.auth.passwords import PasswordRule


class AuthError(Exception):
    """Base of the auth errors; the message is safe to show to the caller."""


class InvalidInput(AuthError):
    """A field the caller sent is not acceptable; the message starts with the field's name."""


class InvalidEmail(InvalidInput):
    pass


class WeakPassword(InvalidInput):
    """The password breaks the policy: the message and `broken` name the rules."""

    def __init__(self, message: str, broken: tuple[PasswordRule, ...] = ()) -> None:
        super().__init__(message)
        self.broken = broken


class EmailTaken(AuthError):
    pass


class InvalidCredentials(AuthError):
    def __init__(self) -> None:
        # One answer for an unknown email and a wrong password.
        super().__init__("invalid email or password")


class AccountInactive(AuthError):
    pass


class TooManyAttempts(AuthError):
    """A rate limit or a lockout: try again in `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidRefreshToken(AuthError):
    pass


class InvalidResetToken(AuthError):
    pass


class NotFound(AuthError):
    pass


class Conflict(AuthError):
    pass


class LastSuperUser(Conflict):
    """The change would leave the deployment without an active super user."""


class OAuthFailed(AuthError):
    pass
