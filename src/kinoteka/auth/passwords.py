"""Password hashing (Argon2id, transparent re-hash) and the password policy."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kinoteka.auth.settings import PasswordHashSettings

MAX_PASSWORD_LENGTH = 128  # bounds the hashing work one request can ask for


class PasswordRule(StrEnum):
    """A rule of the password policy, named so a front end can say it in its own language."""

    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NO_LETTER = "no_letter"
    LETTERS_ONLY = "letters_only"
    FEW_CHARACTERS = "few_characters"
    HAS_EMAIL = "has_email"


class PasswordPolicyError(ValueError):
    """The password breaks the policy; the message says which rule, for the user to read, and
    `broken` lists them."""

    def __init__(self, message: str, broken: tuple[PasswordRule, ...] = ()) -> None:
        super().__init__(message)
        self.broken = broken


@dataclass(frozen=True)
class PasswordCheck:
    valid: bool
    needs_rehash: bool


class Passwords:
    """Hash and verify with the configured Argon2id cost, off the event loop.

    The work goes to a pool of one thread per core: more threads would only share the cores
    while each held its 19 MiB (at the OWASP parameters), so extra requests queue instead.
    """

    def __init__(self, settings: PasswordHashSettings) -> None:
        self.hasher = PasswordHasher(
            time_cost=settings.time_cost,
            memory_cost=settings.memory_kib,
            parallelism=settings.parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        # Verified against when the account is unknown, so both answers cost the same.
        self._decoy = self.hasher.hash("kinoteka-decoy-password")
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self._pool = ThreadPoolExecutor(cores or 1, thread_name_prefix="argon2")

    def hash_sync(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify_sync(self, password_hash: str | None, password: str) -> PasswordCheck:
        try:
            self.hasher.verify(password_hash or self._decoy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return PasswordCheck(valid=False, needs_rehash=False)
        if password_hash is None:
            return PasswordCheck(valid=False, needs_rehash=False)
        return PasswordCheck(valid=True, needs_rehash=self.hasher.check_needs_rehash(password_hash))

    def hash(self, password: str) -> asyncio.Future[str]:
        return asyncio.get_running_loop().run_in_executor(self._pool, self.hash_sync, password)

    def close(self) -> None:
        """Stop the pool's threads (hashes under way finish; queued ones are cancelled)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def verify(self, password_hash: str | None, password: str) -> asyncio.Future[PasswordCheck]:
        """Check `password`; `password_hash=None` burns the same time and answers invalid."""
        return asyncio.get_running_loop().run_in_executor(
            self._pool, self.verify_sync, password_hash, password
        )


def check_password_policy(password: str, *, email: str, min_length: int) -> None:
    """Raise `PasswordPolicyError` naming every rule the password breaks."""
    problems: dict[PasswordRule, str] = {}
    length = len(password)
    if length < min_length:
        problems[PasswordRule.TOO_SHORT] = f"be at least {min_length} characters long"
    if length > MAX_PASSWORD_LENGTH:
        problems[PasswordRule.TOO_LONG] = f"be at most {MAX_PASSWORD_LENGTH} characters long"
    if not any(char.isalpha() for char in password):
        problems[PasswordRule.NO_LETTER] = "contain a letter"
    if all(char.isalpha() for char in password):
        problems[PasswordRule.LETTERS_ONLY] = "contain a digit or a symbol"
    if len(set(password)) < 4:
        problems[PasswordRule.FEW_CHARACTERS] = "use at least 4 different characters"
    local_part = email.split("@", 1)[0].lower()
    if len(local_part) >= 4 and local_part in password.lower():
        problems[PasswordRule.HAS_EMAIL] = "not contain your email address"
    if problems:
        raise PasswordPolicyError("password must " + ", ".join(problems.values()), tuple(problems))
