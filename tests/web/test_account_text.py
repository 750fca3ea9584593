"""What the account pages say for auth's errors and login records: every one in words of the
page's language, none left to auth's English message."""

from __future__ import annotations

import re

import pytest

from kinoteka import auth
from kinoteka.auth import errors
from kinoteka.web.account_text import (
    DEVICES,
    OUTCOMES,
    PASSWORD_RULES,
    UNEXPLAINED,
    device_name,
    explain,
    outcome_name,
)
from kinoteka.web.i18n import Strings

RUSSIAN, ENGLISH = Strings("ru"), Strings("en")
NOT_ON_PAGES = {errors.InvalidRefreshToken, errors.InvalidInput, errors.Conflict}
"""Errors no account page meets (token renewal happens behind the page; role names and
refusing one's own account are the admin's), said by the general sentence."""


def _kinds(base: type[errors.AuthError]) -> list[type[errors.AuthError]]:
    found = []
    for kind in base.__subclasses__():
        found += [kind, *_kinds(kind)]
    return found


def _instance(kind: type[errors.AuthError]) -> errors.AuthError:
    if kind is errors.TooManyAttempts:
        return errors.TooManyAttempts("too many requests; retry in 90 s", 90)
    if kind is errors.InvalidCredentials:
        return errors.InvalidCredentials()
    if kind is errors.WeakPassword:
        return errors.WeakPassword("password must …", tuple(auth.PasswordRule))
    return kind("an English message")


@pytest.mark.parametrize("kind", _kinds(errors.AuthError), ids=lambda kind: kind.__name__)
def test_every_auth_error_has_its_own_sentence_in_both_languages(
    kind: type[errors.AuthError],
) -> None:
    error = _instance(kind)
    english = explain(ENGLISH, error, min_password_length=10)
    russian = explain(RUSSIAN, error, min_password_length=10)
    assert english != str(error)
    assert re.search("[\u0430-\u044f\u0451]", russian), russian
    assert russian != english
    if kind not in NOT_ON_PAGES:
        assert english != UNEXPLAINED, f"{kind.__name__} has no sentence of its own"


def test_waits_and_password_rules_are_said_with_their_numbers() -> None:
    minutes = explain(RUSSIAN, errors.TooManyAttempts("", 150), min_password_length=10)
    assert minutes == "Слишком много попыток. Повторите через 3 минуты."
    seconds = explain(ENGLISH, errors.TooManyAttempts("", 1), min_password_length=10)
    assert seconds == "Too many attempts. Try again in 1 second."
    short = errors.WeakPassword("", (auth.PasswordRule.TOO_SHORT, auth.PasswordRule.NO_LETTER))
    assert explain(RUSSIAN, short, min_password_length=21) == (
        "Выберите другой пароль: он должен быть не короче 21 символа, содержать букву."
    )
    assert set(PASSWORD_RULES) | {auth.PasswordRule.TOO_SHORT} == set(auth.PasswordRule)


def test_every_login_outcome_and_device_type_has_words() -> None:
    assert set(OUTCOMES) == set(auth.LoginOutcome)
    assert set(DEVICES) == set(auth.DeviceType)
    for outcome in auth.LoginOutcome:
        assert outcome_name(RUSSIAN, outcome) != outcome_name(ENGLISH, outcome) != outcome
    for device in auth.DeviceType:
        assert device_name(RUSSIAN, device) != device_name(ENGLISH, device) != device
