"""Password login: rate limits, the progressive lockout, and the login history it writes."""

from __future__ import annotations

import datetime as dt
import uuid
from math import ceil
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from kinoteka.auth import repository
from kinoteka.auth.devices import ClientInfo
from kinoteka.auth.errors import AccountInactive, InvalidCredentials, InvalidEmail, TooManyAttempts
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.models import LoginMethod, LoginOutcome, User
from kinoteka.auth.outbox import AccountEvent, record_event
from kinoteka.auth.service import enforce_limit, normalise_email
from kinoteka.auth.sessions import TokenPair, mark_logged_in, new_session

log = structlog.get_logger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _history_values(
    *,
    email: str,
    user_id: uuid.UUID | None,
    client: ClientInfo,
    outcome: LoginOutcome,
    method: LoginMethod = LoginMethod.PASSWORD,
) -> dict[str, Any]:
    """The columns of one login-history row (its `created` is left to the caller or the server)."""
    return {
        "id": uuid.uuid4(),
        "device_type": client.device_type,
        "user_id": user_id,
        "email": email,
        "ip": client.ip,
        "user_agent": client.stored_user_agent,
        "method": method,
        "outcome": outcome,
    }


def lockout_seconds(kit: AuthKit, failures: int) -> float:
    """Progressive lock after `failures` in a row: base, then doubling, up to the cap."""
    lockout = kit.settings.lockout
    if failures < lockout.threshold:
        return 0.0
    return float(
        min(lockout.base_seconds * 2 ** (failures - lockout.threshold), lockout.max_seconds)
    )


async def _register_failure(
    kit: AuthKit, user_id: uuid.UUID | None, email: str, client: ClientInfo
) -> None:
    """Count a failed password (and lock the account past the threshold) and record it.

    An unknown account (`user_id=None`) runs the same statements, its counter update matching
    no row, so the answer's timing does not tell a known email from an unknown one."""
    async with kit.db.session() as audit:
        failures = await repository.count_failed_login(audit, user_id or uuid.uuid4())
        seconds = lockout_seconds(kit, failures) if user_id is not None else 0.0
        if user_id is not None and seconds:
            await repository.lock_until(audit, user_id, _now() + dt.timedelta(seconds=seconds))
            log.info("auth.locked", user_id=str(user_id), seconds=seconds)
        outcome = LoginOutcome.WRONG_PASSWORD if user_id else LoginOutcome.UNKNOWN_ACCOUNT
        await repository.add_history(
            audit, _history_values(email=email, user_id=user_id, client=client, outcome=outcome)
        )


async def _audit(kit: AuthKit, **fields: Any) -> None:
    """A history row that outlives the failing request: its own unit of work."""
    async with kit.db.session() as audit:
        await repository.add_history(audit, _history_values(**fields))


async def login(
    session: AsyncSession, kit: AuthKit, email: str, password: str, client: ClientInfo
) -> TokenPair:
    """Email + password to an access and a refresh token (what the admin panel calls too).

    A login is the hot path next to Argon2, so its database work is two constant statements:
    one reads the account with its roles and permissions; after the hash checks out, one writes
    the session, its refresh token, the history row and the account's counters (and one
    more asks whether the device is new, to record a `new_device_sign_in` event). Both run in
    the caller's `session` (its commit makes the login stick), not through the ORM.

    Unknown emails cost one Argon2 verification too, and answer the same as a wrong password.
    """
    limits = kit.settings.rate_limits
    await enforce_limit(kit, limits.login_per_ip, "login-ip", client.ip or "-")
    try:
        email = normalise_email(email)
    except InvalidEmail:
        await kit.passwords.verify(None, password)
        raise InvalidCredentials() from None
    await enforce_limit(kit, limits.login_per_account, "login-account", email)
    account = await repository.login_account(session, email)
    if account is not None and account.locked_until is not None:
        wait = ceil((account.locked_until - _now()).total_seconds())
        if wait > 0:
            await _audit(kit, email=email, user_id=account.id, client=client,
                         outcome=LoginOutcome.LOCKED)  # fmt: skip
            raise TooManyAttempts(f"too many failed logins; retry in {wait} s", wait)
    check = await kit.passwords.verify(account.password_hash if account else None, password)
    if account is None or not check.valid:
        await _register_failure(kit, account.id if account else None, email, client)
        raise InvalidCredentials()
    if not account.is_active:
        await _audit(kit, email=email, user_id=account.id, client=client,
                     outcome=LoginOutcome.INACTIVE)  # fmt: skip
        raise AccountInactive("this account is deactivated")
    if check.needs_rehash:
        # The cost settings changed since this hash was made: upgrade it while we have the
        # password, hashing before the login's write takes the account row's lock.
        await repository.set_password_hash(session, account.id, await kit.passwords.hash(password))
        log.info("auth.password_rehashed", user_id=str(account.id))
    if not await repository.known_device(session, account.id, client.stored_user_agent):
        await record_event(session, AccountEvent.NEW_DEVICE_SIGN_IN, {
            "user_id": str(account.id), "email": account.email, "device": client.device_type,
            "user_agent": client.stored_user_agent or "", "ip": client.ip or "",
            "at": _now().isoformat(),
        })  # fmt: skip
    now = _now()
    pair = await new_session(
        session, kit, user_id=account.id, email=account.email, roles=account.roles,
        permissions=account.permissions, client=client, method=LoginMethod.PASSWORD,
        now=now,
    )  # fmt: skip
    known = session.identity_map.get(identity_key(User, account.id))
    if known is not None:  # keep an account object the caller holds in step with the write
        mark_logged_in(known, now)
    return pair
