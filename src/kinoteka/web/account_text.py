"""What the account pages say for auth's errors and login records, in the page's language.

Auth's messages are English sentences for API callers; a page names the error by its class
(and a weak password by the rules it broke) and says it through the catalog instead.
"""

from __future__ import annotations

from math import ceil

import structlog

from kinoteka import auth
from kinoteka.web.i18n import N_, Strings

log = structlog.get_logger(__name__)

ERRORS: dict[type[auth.AuthError], str] = {
    auth.InvalidCredentials: N_("The password is wrong."),
    auth.AccountInactive: N_("This account is deactivated."),
    auth.InvalidEmail: N_("That is not a valid email address."),
    auth.EmailTaken: N_(
        "An account with this email already exists. Sign in, or reset its password."
    ),
    auth.InvalidResetToken: N_(
        "This reset link or code is wrong, used or expired. Ask for a new one."
    ),
    auth.LastSuperUser: N_(
        "This is the last active super user: give another account that role first."
    ),
    auth.NotFound: N_("That is already gone."),
    auth.OAuthFailed: N_(
        "That sign-in did not work. Try again, or sign in with your email and password."
    ),
}
"""A page's sentence per error class (the nearest class of an error wins)."""

UNEXPLAINED = N_("That did not work. Try again.")

PASSWORD_RULES: dict[auth.PasswordRule, str] = {
    auth.PasswordRule.TOO_LONG: N_("be shorter"),
    auth.PasswordRule.NO_LETTER: N_("contain a letter"),
    auth.PasswordRule.LETTERS_ONLY: N_("contain a digit or a symbol"),
    auth.PasswordRule.FEW_CHARACTERS: N_("use at least 4 different characters"),
    auth.PasswordRule.HAS_EMAIL: N_("not contain your email address"),
}
"""The rules of the policy as the end of "it must …" (the minimum length is said apart)."""

OUTCOMES: dict[str, str] = {
    auth.LoginOutcome.SUCCESS: N_("Signed in"),
    auth.LoginOutcome.WRONG_PASSWORD: N_("Wrong password"),
    auth.LoginOutcome.UNKNOWN_ACCOUNT: N_("Unknown account"),
    auth.LoginOutcome.LOCKED: N_("Refused: locked after failed attempts"),
    auth.LoginOutcome.INACTIVE: N_("Refused: the account is deactivated"),
}
DEVICES: dict[str, str] = {
    auth.DeviceType.WEB: N_("Browser"),
    auth.DeviceType.MOBILE: N_("Phone or tablet"),
    auth.DeviceType.SMART_TV: N_("Smart TV"),
    auth.DeviceType.OTHER: N_("Other device"),
}


def explain(strings: Strings, error: auth.AuthError, *, min_password_length: int) -> str:
    """`error` as a sentence of the page's language."""
    if isinstance(error, auth.TooManyAttempts):
        return _retry_in(strings, error.retry_after)
    if isinstance(error, auth.WeakPassword):
        return _weak_password(strings, error.broken, min_password_length)
    for kind in type(error).__mro__:
        message = ERRORS.get(kind)
        if message is not None:
            return strings.gettext(message)
    log.warning("web.unexplained_auth_error", kind=type(error).__name__, error=str(error))
    return strings.gettext(UNEXPLAINED)


def _retry_in(strings: Strings, seconds: int) -> str:
    if seconds < 60:
        return strings.ngettext(
            "Too many attempts. Try again in %(num)s second.",
            "Too many attempts. Try again in %(num)s seconds.",
            max(seconds, 1),
        )
    return strings.ngettext(
        "Too many attempts. Try again in %(num)s minute.",
        "Too many attempts. Try again in %(num)s minutes.",
        ceil(seconds / 60),
    )


def _weak_password(strings: Strings, broken: tuple[auth.PasswordRule, ...], min_length: int) -> str:
    rules = [
        strings.ngettext(
            "be at least %(num)s character long", "be at least %(num)s characters long", min_length
        )
        if rule is auth.PasswordRule.TOO_SHORT
        else strings.gettext(PASSWORD_RULES[rule])
        for rule in broken
    ]
    if not rules:
        return strings.gettext("Choose another password.")
    return strings.gettext("Choose another password: it must %(rules)s.", rules=", ".join(rules))


def outcome_name(strings: Strings, outcome: str) -> str:
    """A login record's outcome, said in the page's language."""
    message = OUTCOMES.get(outcome)
    return strings.gettext(message) if message else outcome


def device_name(strings: Strings, device: str) -> str:
    """A kind of device, said in the page's language."""
    message = DEVICES.get(device)
    return strings.gettext(message) if message else device
