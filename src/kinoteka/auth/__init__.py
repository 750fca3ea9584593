"""Identity for the whole platform: accounts, roles, JWTs with JWKS, sessions, login history.

Public surface for other contexts (loaded on first use, so importing the package stays cheap
and free of cycles with `kinoteka.services`): the use cases a browser front end drives
(`login`, `sign_up`, `refresh`, `logout`, `active_sessions`, `revoke_session`,
`login_history`, `get_user`, `change_password`, `request_password_reset`, `reset_password`),
the types they take and give (`ClientInfo`, `TokenPair`, `AccessClaims`), their errors
(`AuthError`, `TooManyAttempts`) and the token check (`get_auth_kit`, `check_access_token`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kinoteka.auth.account import change_password, request_password_reset, reset_password
    from kinoteka.auth.deps import check_access_token, get_auth_kit
    from kinoteka.auth.errors import AuthError, TooManyAttempts
    from kinoteka.auth.service import (
        ClientInfo,
        TokenPair,
        active_sessions,
        get_user,
        login,
        login_history,
        logout,
        refresh,
        revoke_session,
        sign_up,
    )
    from kinoteka.auth.tokens import AccessClaims

_EXPORTS = {
    "change_password": "account",
    "request_password_reset": "account",
    "reset_password": "account",
    "check_access_token": "deps",
    "get_auth_kit": "deps",
    "AuthError": "errors",
    "TooManyAttempts": "errors",
    "ClientInfo": "service",
    "TokenPair": "service",
    "active_sessions": "service",
    "get_user": "service",
    "login": "service",
    "login_history": "service",
    "logout": "service",
    "refresh": "service",
    "revoke_session": "service",
    "sign_up": "service",
    "AccessClaims": "tokens",
}

__all__ = [
    "AccessClaims",
    "AuthError",
    "ClientInfo",
    "TokenPair",
    "TooManyAttempts",
    "active_sessions",
    "change_password",
    "check_access_token",
    "get_auth_kit",
    "get_user",
    "login",
    "login_history",
    "logout",
    "refresh",
    "request_password_reset",
    "reset_password",
    "revoke_session",
    "sign_up",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kinoteka.auth' has no attribute {name!r}")
    return getattr(importlib.import_module(f"kinoteka.auth.{module}"), name)
