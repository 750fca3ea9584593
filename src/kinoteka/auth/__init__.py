"""Identity for the whole platform: accounts, roles, JWTs with JWKS, sessions, login history.

This package is auth's public surface; other contexts import only from `kinoteka.auth`:

- Trusting a caller (FastAPI): `CurrentUser`, `current_user`, `require_permission`,
  `check_access_token`, `get_auth_kit`, `AuthKit`, `AccessClaims`, `Permission`, `RoleName`;
  naming one without letting it in (what a request is recorded as): `verified_claims`
  (signature and expiry only, remembered tokens free, None for a bad token).
- Signing in for another front end (the admin panel): `ClientInfo`, `TokenPair`, `log_in`,
  `refresh_session`, `log_out`, and the errors `AuthError`, `TooManyAttempts`.
- A viewer's own account (the web pages): `sign_up` (signed in at once), `get_account`,
  `active_sessions`, `revoke_session`, `login_history` (`LoginOutcome`, `DeviceType`),
  `change_password`, `delete_own_account`, `request_password_reset`, `reset_token_usable`,
  `reset_password`, `confirm_email` (the welcome mail's link); the errors a page says in its
  own language (`InvalidCredentials`, `InvalidEmail`, `WeakPassword` with the broken
  `PasswordRule`s, `EmailTaken`, `AccountInactive`, `InvalidResetToken`, `LastSuperUser`,
  `NotFound`, `OAuthFailed`).
- Social sign-in for a browser front end (load only when providers are configured):
  `build_oauth(providers)`, `start_social_login`, `finish_social_login`.
- Account management: `role_names`, `account_role_names`, `set_account_roles`, and
  `AccountRecord`, the mapped account class for read-only listings (SQLAdmin needs one).
- Events: `on_account_deleted(handler)` (`off_account_deleted` undoes it); `handler(session,
  user_id)` runs inside the deleting transaction, and a context that keeps data about
  accounts removes or anonymises it there. Account events for other processes
  (`AccountEvent`: created, password reset requested, password changed, new-device sign-in)
  go through a transactional outbox; a worker runs `relay_account_events(db, publish)` to hand
  them to the broker (payloads in `kinoteka.auth.outbox`'s docstring).
- Audiences: `account_addresses(session, role=…, after=…, limit=…, among=…)`, the active
  accounts' ids and emails (of one role, or all, or of the ids `among`), in id order for
  keyset paging.

Revocation. Access tokens are verified offline (signature, expiry; a token verified before is
remembered, so its signature is not checked again), then one Redis round trip (MGET), on
every request, reads the token's `jti` in the denylist and the account's valid-after moment.
Logout, refresh and password changes denylist a session's live token; a role change,
deactivation or deletion sets valid-after to now, so every token issued before it is refused
on the next request anywhere that shares auth's Redis (the admin panel then refreshes,
getting the roles that hold now). A service verifying with the JWKS alone and its own Redis
sees the change within one access-token lifetime (`KINOTEKA_AUTH__ACCESS_TTL_SECONDS`, 15 min
by default).

While Redis is down or frozen, auth fails closed. Every authenticated route answers 503 with
`Retry-After` (the revocation check cannot be made, and a logged-out, deactivated or demoted
caller must not get in meanwhile: failing open would turn an outage into a window for exactly
the tokens someone revoked), and so do login, registration and refresh (their rate limits and
lockouts live in Redis: without them a brute-force run would be unlimited). The signature
check alone is offline, so a public route that merely reads an optional token is unaffected.
Each Redis call waits at most `KINOTEKA_CACHE__SOCKET_TIMEOUT` (1 s); the next request after
Redis returns is served as usual, without a restart.

Names are resolved on first use, so importing this package loads nothing else.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kinoteka.auth.account import (
        change_password,
        confirm_email,
        delete_own_account,
        request_password_reset,
        reset_password,
        reset_token_usable,
    )
    from kinoteka.auth.deps import (
        CurrentUser,
        check_access_token,
        current_user,
        get_auth_kit,
        require_permission,
        verified_claims,
    )
    from kinoteka.auth.devices import ClientInfo
    from kinoteka.auth.errors import (
        AccountInactive,
        AuthError,
        EmailTaken,
        InvalidCredentials,
        InvalidEmail,
        InvalidResetToken,
        LastSuperUser,
        NotFound,
        OAuthFailed,
        TooManyAttempts,
        WeakPassword,
    )
    from kinoteka.auth.events import off_account_deleted, on_account_deleted
    from kinoteka.auth.kit import AuthKit
    from kinoteka.auth.login import login as log_in
    from kinoteka.auth.models import DeviceType, LoginOutcome
    from kinoteka.auth.models import User as AccountRecord
    from kinoteka.auth.oauth import build_oauth, finish_social_login, start_social_login
    from kinoteka.auth.outbox import AccountEvent
    from kinoteka.auth.outbox import relay_events as relay_account_events
    from kinoteka.auth.passwords import PasswordRule
    from kinoteka.auth.permissions import Permission, RoleName
    from kinoteka.auth.repository import account_addresses
    from kinoteka.auth.roles import account_role_names, role_names, set_account_roles
    from kinoteka.auth.service import get_user as get_account
    from kinoteka.auth.service import sign_up
    from kinoteka.auth.sessions import TokenPair, active_sessions, login_history, revoke_session
    from kinoteka.auth.sessions import logout as log_out
    from kinoteka.auth.sessions import refresh as refresh_session
    from kinoteka.auth.tokens import AccessClaims

_EXPORTS: dict[str, tuple[str, str]] = {
    "AccessClaims": ("tokens", "AccessClaims"),
    "AccountEvent": ("outbox", "AccountEvent"),
    "AccountInactive": ("errors", "AccountInactive"),
    "AccountRecord": ("models", "User"),
    "AuthError": ("errors", "AuthError"),
    "AuthKit": ("kit", "AuthKit"),
    "ClientInfo": ("devices", "ClientInfo"),
    "CurrentUser": ("deps", "CurrentUser"),
    "DeviceType": ("models", "DeviceType"),
    "EmailTaken": ("errors", "EmailTaken"),
    "InvalidCredentials": ("errors", "InvalidCredentials"),
    "InvalidEmail": ("errors", "InvalidEmail"),
    "InvalidResetToken": ("errors", "InvalidResetToken"),
    "LastSuperUser": ("errors", "LastSuperUser"),
    "LoginOutcome": ("models", "LoginOutcome"),
    "NotFound": ("errors", "NotFound"),
    "OAuthFailed": ("errors", "OAuthFailed"),
    "PasswordRule": ("passwords", "PasswordRule"),
    "Permission": ("permissions", "Permission"),
    "RoleName": ("permissions", "RoleName"),
    "TokenPair": ("sessions", "TokenPair"),
    "TooManyAttempts": ("errors", "TooManyAttempts"),
    "WeakPassword": ("errors", "WeakPassword"),
    "account_addresses": ("repository", "account_addresses"),
    "account_role_names": ("roles", "account_role_names"),
    "active_sessions": ("sessions", "active_sessions"),
    "change_password": ("account", "change_password"),
    "confirm_email": ("account", "confirm_email"),
    "delete_own_account": ("account", "delete_own_account"),
    "get_account": ("service", "get_user"),
    "login_history": ("sessions", "login_history"),
    "request_password_reset": ("account", "request_password_reset"),
    "reset_password": ("account", "reset_password"),
    "reset_token_usable": ("account", "reset_token_usable"),
    "revoke_session": ("sessions", "revoke_session"),
    "sign_up": ("service", "sign_up"),
    "build_oauth": ("oauth", "build_oauth"),
    "check_access_token": ("deps", "check_access_token"),
    "finish_social_login": ("oauth", "finish_social_login"),
    "start_social_login": ("oauth", "start_social_login"),
    "current_user": ("deps", "current_user"),
    "get_auth_kit": ("deps", "get_auth_kit"),
    "log_in": ("login", "login"),
    "log_out": ("sessions", "logout"),
    "off_account_deleted": ("events", "off_account_deleted"),
    "on_account_deleted": ("events", "on_account_deleted"),
    "refresh_session": ("sessions", "refresh"),
    "relay_account_events": ("outbox", "relay_events"),
    "require_permission": ("deps", "require_permission"),
    "role_names": ("roles", "role_names"),
    "set_account_roles": ("roles", "set_account_roles"),
    "verified_claims": ("deps", "verified_claims"),
}

__all__ = [
    "AccessClaims",
    "AccountEvent",
    "AccountInactive",
    "AccountRecord",
    "AuthError",
    "AuthKit",
    "ClientInfo",
    "CurrentUser",
    "DeviceType",
    "EmailTaken",
    "InvalidCredentials",
    "InvalidEmail",
    "InvalidResetToken",
    "LastSuperUser",
    "LoginOutcome",
    "NotFound",
    "OAuthFailed",
    "PasswordRule",
    "Permission",
    "RoleName",
    "TokenPair",
    "TooManyAttempts",
    "WeakPassword",
    "account_addresses",
    "account_role_names",
    "active_sessions",
    "build_oauth",
    "change_password",
    "check_access_token",
    "confirm_email",
    "current_user",
    "delete_own_account",
    "finish_social_login",
    "get_account",
    "get_auth_kit",
    "log_in",
    "log_out",
    "login_history",
    "off_account_deleted",
    "on_account_deleted",
    "refresh_session",
    "relay_account_events",
    "request_password_reset",
    "require_permission",
    "reset_password",
    "reset_token_usable",
    "revoke_session",
    "role_names",
    "set_account_roles",
    "sign_up",
    "start_social_login",
    "verified_claims",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value
    return value
