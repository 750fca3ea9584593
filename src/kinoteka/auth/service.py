"""Accounts: sign-up and creation, lookups, and the checks every use case shares (email
normalisation, the password policy, rate limits).

Functions take the request's `AsyncSession` (they flush; the caller commits) and the process's
`AuthKit`. Login lives in `login`, sessions and refresh in `sessions`, self-service and
deletion in `account`, roles in `roles`, and every query in `repository`.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth import repository
from kinoteka.auth.devices import ClientInfo
from kinoteka.auth.errors import EmailTaken, InvalidEmail, NotFound, TooManyAttempts, WeakPassword
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.models import Role, User, UserRole
from kinoteka.auth.outbox import AccountEvent, record_event
from kinoteka.auth.passwords import PasswordPolicyError, check_password_policy
from kinoteka.auth.permissions import RoleName
from kinoteka.auth.sessions import TokenPair, start_session, token_digest
from kinoteka.auth.settings import AuthSettings

log = structlog.get_logger(__name__)

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def normalise_email(email: str) -> str:
    """Trimmed, NFKC, lower-cased, domain in IDNA; `InvalidEmail` when it is not an address."""
    value = unicodedata.normalize("NFKC", email).strip().lower()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise InvalidEmail("email: not a valid email address")
    local, domain = value.rsplit("@", 1)
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidEmail("email: the domain is not valid") from None
    return f"{local}@{domain}"


async def enforce_limit(kit: AuthKit, rule: str, what: str, *identity: str) -> None:
    """`TooManyAttempts` when this hit of `rule` (named `what`) for `identity` is one too many."""
    if not kit.settings.rate_limits.enabled:
        return
    decision = await kit.limiter.hit(rule, what, *identity)
    if not decision.allowed:
        log.info("auth.rate_limited", rule=what)
        raise TooManyAttempts(f"too many requests; retry in {decision.retry_after} s",
                              decision.retry_after)  # fmt: skip


async def check_client_rate(kit: AuthKit, client_key: str) -> None:
    """The global per-client limit on the auth API."""
    await enforce_limit(kit, kit.settings.rate_limits.api_per_client, "api", client_key)


def check_new_password(settings: AuthSettings, password: str, email: str) -> None:
    """`WeakPassword` (naming the rules broken) unless the password meets the policy."""
    try:
        check_password_policy(password, email=email, min_length=settings.password_min_length)
    except PasswordPolicyError as error:
        raise WeakPassword(f"password: {error}", error.broken) from None


async def get_role(session: AsyncSession, name: str) -> Role:
    """The role called `name`, or `NotFound`."""
    role = await repository.role_by_name(session, name)
    if role is None:
        raise NotFound(f"role {name!r} does not exist")
    return role


async def user_roles(session: AsyncSession, user_id: uuid.UUID) -> list[Role]:
    return await repository.user_roles(session, user_id)


async def create_user(
    session: AsyncSession,
    kit: AuthKit,
    email: str,
    password: str | None,
    *,
    roles: Sequence[str] = (RoleName.PUBLIC_USER,),
) -> User:
    """A new account holding `roles`; the password is checked against the policy."""
    email = normalise_email(email)
    password_hash = None
    if password is not None:
        check_new_password(kit.settings, password, email)
        password_hash = await kit.passwords.hash(password)
    if await repository.email_in_use(session, email):
        raise EmailTaken("email: an account with this email already exists")
    confirm = secrets.token_urlsafe(32)
    user = User(email=email, password_hash=password_hash, is_active=True, failed_logins=0,
                email_confirm_hash=token_digest(confirm))  # fmt: skip
    session.add(user)
    await session.flush()
    for name in roles:
        session.add(UserRole(user_id=user.id, role_id=(await get_role(session, name)).id))
    await session.flush()
    # The site's page (it confirms and says so in the site's language); apps call
    # GET /api/v1/auth/email/confirm with the same token.
    confirm_url = f"{kit.settings.public_url.rstrip('/')}/email/confirm?token={confirm}"
    payload = {"user_id": str(user.id), "email": email, "confirm_url": confirm_url}
    await record_event(session, AccountEvent.CREATED, payload)
    log.info("auth.user_created", user_id=str(user.id))
    return user


async def sign_up(
    session: AsyncSession, kit: AuthKit, email: str, password: str, client: ClientInfo
) -> tuple[User, TokenPair]:
    """A new account, signed in: its first session starts with it (one round trip for apps)."""
    await enforce_limit(kit, kit.settings.rate_limits.signup_per_ip, "signup", client.ip or "-")
    user = await create_user(session, kit, email, password)
    return user, await start_session(session, kit, user, client)


async def user_by_email(session: AsyncSession, normalised: str) -> User | None:
    """The account with this already normalised email, if any."""
    return await repository.user_by_email(session, normalised)


async def find_user(session: AsyncSession, email: str) -> User:
    """The account with this email (normalised), or `NotFound`."""
    normalised = normalise_email(email)
    user = await repository.user_by_email(session, normalised)
    if user is None:
        raise NotFound(f"email: no account for {normalised}")
    return user


async def get_user(session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False) -> User:
    user = await repository.user_by_id(session, user_id, for_update=for_update)
    if user is None:
        raise NotFound("no such user")
    return user
