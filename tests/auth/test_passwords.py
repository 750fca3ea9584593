"""Argon2id parameters and the password policy."""

from __future__ import annotations

import pytest
from argon2 import Type
from hypothesis import given
from hypothesis import strategies as st

from kinoteka.auth.passwords import PasswordPolicyError, Passwords, check_password_policy
from kinoteka.auth.settings import AuthSettings, PasswordHashSettings


def test_defaults_are_the_owasp_argon2id_parameters() -> None:
    settings = AuthSettings().password_hash
    assert (settings.memory_kib, settings.time_cost, settings.parallelism) == (19456, 2, 1)
    hasher = Passwords(settings).hasher
    assert hasher.type is Type.ID
    assert hasher.hash("x").startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_verify_flags_hashes_made_with_other_parameters() -> None:
    cheap = Passwords(PasswordHashSettings(memory_kib=64, time_cost=1))
    stronger = Passwords(PasswordHashSettings(memory_kib=128, time_cost=2))
    old_hash = await cheap.hash("a password 1")
    check = await stronger.verify(old_hash, "a password 1")
    assert check.valid
    assert check.needs_rehash
    assert not (await stronger.verify(old_hash, "another one 2")).valid
    assert not (await stronger.verify(None, "a password 1")).valid
    assert not (await stronger.verify("not a hash", "a password 1")).valid


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "at least 10 characters"),
        ("x1" * 70, "at most 128 characters"),
        ("1234567890!!", "contain a letter"),
        ("onlyletters", "a digit or a symbol"),
        ("aaaaaaaaaaaa1", "4 different characters"),
        ("jdoe-rules-2024", "not contain your email"),
    ],
)
def test_policy_names_the_rule(password: str, message: str) -> None:
    with pytest.raises(PasswordPolicyError, match=message):
        check_password_policy(password, email="jdoe@example.com", min_length=10)


@given(st.text(min_size=0, max_size=200))
def test_policy_either_accepts_or_says_why(password: str) -> None:
    reason = ""
    try:
        check_password_policy(password, email="someone@example.com", min_length=10)
    except PasswordPolicyError as error:
        reason = str(error)
    if reason:
        assert reason.startswith("password must ")
    else:
        assert 10 <= len(password) <= 128
