"""Identity for the whole platform: accounts, roles, JWTs with JWKS, sessions, login history.

What other contexts may use, imported from `kinoteka.auth` and nothing deeper:
- `CurrentUser`, `current_user`, `require_permission`: FastAPI dependencies trusting a
  caller's access token offline; `check_access_token(kit, token)` for non-FastAPI callers;
  `get_auth_kit`, `AuthKitDep`, `AuthKit`: what the auth use cases share in a process;
- `AccessClaims`, `TokenError`: a token's verified claims, and why a token is refused;
- `AuthError`, `TooManyAttempts`: the errors auth's use cases raise;
- `Permission`, `RoleName`: the names of permissions and roles.

Loaded on first use (module `__getattr__`), so that the settings tree importing
`kinoteka.auth.settings` does not load FastAPI and the crypto stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kinoteka.auth.deps import (
        AuthKitDep,
        CurrentUser,
        check_access_token,
        current_user,
        get_auth_kit,
        require_permission,
    )
    from kinoteka.auth.errors import AuthError, TooManyAttempts
    from kinoteka.auth.kit import AuthKit
    from kinoteka.auth.permissions import Permission, RoleName
    from kinoteka.auth.tokens import AccessClaims, TokenError

__all__ = [
    "AccessClaims",
    "AuthError",
    "AuthKit",
    "AuthKitDep",
    "CurrentUser",
    "Permission",
    "RoleName",
    "TokenError",
    "TooManyAttempts",
    "check_access_token",
    "current_user",
    "get_auth_kit",
    "require_permission",
]

_DEPS = {
    "AuthKitDep",
    "CurrentUser",
    "check_access_token",
    "current_user",
    "get_auth_kit",
    "require_permission",
}


def __getattr__(name: str) -> Any:
    if name in _DEPS:
        import kinoteka.auth.deps as deps

        return getattr(deps, name)
    if name in {"AuthError", "TooManyAttempts"}:
        import kinoteka.auth.errors as errors

        return getattr(errors, name)
    if name == "AuthKit":
        import kinoteka.auth.kit as kit

        return kit.AuthKit
    if name in {"Permission", "RoleName"}:
        import kinoteka.auth.permissions as permissions

        return getattr(permissions, name)
    if name in {"AccessClaims", "TokenError"}:
        import kinoteka.auth.tokens as tokens

        return getattr(tokens, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
