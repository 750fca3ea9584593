"""The auth HTTP API at `/api/v1/auth` (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth import account, login, service, sessions
from kinoteka.auth import roles as roles_service
from kinoteka.auth.deps import AuthKitDep, CurrentUser, require_permission
from kinoteka.auth.devices import ClientInfo
from kinoteka.auth.errors import (
    AccountInactive,
    AuthError,
    Conflict,
    EmailTaken,
    InvalidCredentials,
    InvalidInput,
    InvalidRefreshToken,
    InvalidResetToken,
    NotFound,
    OAuthFailed,
    TooManyAttempts,
)
from kinoteka.auth.models import User
from kinoteka.auth.permissions import Permission
from kinoteka.auth.schemas import (
    Credentials,
    DeactivateIn,
    DeleteAccountIn,
    GrantIn,
    HistoryPage,
    LoginOut,
    PasswordChangeIn,
    RefreshIn,
    ResetIn,
    ResetRequestIn,
    RoleIn,
    RoleOut,
    SessionOut,
    SignUpOut,
    TokenOut,
    UserOut,
)
from kinoteka.auth.tokens import AccessClaims
from kinoteka.services import SessionDep

PREFIX = "/api/v1/auth"

STATUS: dict[type[AuthError], int] = {
    InvalidInput: status.HTTP_422_UNPROCESSABLE_CONTENT,
    EmailTaken: status.HTTP_409_CONFLICT,
    Conflict: status.HTTP_409_CONFLICT,
    InvalidCredentials: status.HTTP_401_UNAUTHORIZED,
    InvalidRefreshToken: status.HTTP_401_UNAUTHORIZED,
    AccountInactive: status.HTTP_403_FORBIDDEN,
    NotFound: status.HTTP_404_NOT_FOUND,
    InvalidResetToken: status.HTTP_400_BAD_REQUEST,
    OAuthFailed: status.HTTP_400_BAD_REQUEST,
    TooManyAttempts: status.HTTP_429_TOO_MANY_REQUESTS,
}


async def auth_error_handler(request: Request, error: Exception) -> JSONResponse:
    """The one place auth errors become HTTP answers."""
    code = next(
        (STATUS[kind] for kind in type(error).__mro__ if kind in STATUS),
        status.HTTP_400_BAD_REQUEST,
    )
    headers: dict[str, str] = {}
    if isinstance(error, TooManyAttempts):
        headers["Retry-After"] = str(error.retry_after)
    if code == status.HTTP_401_UNAUTHORIZED:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"detail": str(error)}, status_code=code, headers=headers)


def client_info(request: Request) -> ClientInfo:
    """The caller; `request.client` is the forwarded address only behind a trusted proxy."""
    return ClientInfo(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


Client = Annotated[ClientInfo, Depends(client_info)]


async def per_client_limit(kit: AuthKitDep, client: Client) -> None:
    await service.check_client_rate(kit, client.ip or "-")


router = APIRouter(prefix=PREFIX, tags=["auth"], dependencies=[Depends(per_client_limit)])
RolesManager = Annotated[AccessClaims, Depends(require_permission(Permission.ROLES_MANAGE))]
UsersManager = Annotated[AccessClaims, Depends(require_permission(Permission.USERS_MANAGE))]


def token_out(pair: sessions.TokenPair) -> TokenOut:
    """A token pair as the API answers it."""
    return TokenOut(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


async def _user_out(session: AsyncSession, user: User) -> UserOut:
    """The account with its roles and the permissions they add up to."""
    roles = await service.user_roles(session, user.id)
    return UserOut(
        id=user.id, email=user.email, is_active=user.is_active, created=user.created,
        roles=[role.name for role in roles],
        permissions=sorted({p for role in roles for p in role.permissions}),
    )  # fmt: skip


@router.post("/signup", status_code=status.HTTP_201_CREATED, summary="Create an account, signed in")
async def sign_up(
    body: Credentials, session: SessionDep, kit: AuthKitDep, client: Client
) -> SignUpOut:
    """The account and its first token pair: no separate login needed."""
    user, pair = await service.sign_up(session, kit, body.email, body.password, client)
    account_out = await _user_out(session, user)
    return SignUpOut(**account_out.model_dump(), tokens=token_out(pair))


@router.post("/login", summary="Email and password to an access and a refresh token")
async def log_in(
    body: Credentials, session: SessionDep, kit: AuthKitDep, client: Client
) -> TokenOut:
    return token_out(await login.login(session, kit, body.email, body.password, client))


@router.post("/refresh", summary="Spend a refresh token for a new pair (rotation)")
async def refresh(
    body: RefreshIn, session: SessionDep, kit: AuthKitDep, client: Client
) -> TokenOut:
    return token_out(await sessions.refresh(session, kit, body.refresh_token, client))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End this session")
async def logout(claims: CurrentUser, session: SessionDep, kit: AuthKitDep) -> Response:
    await sessions.logout(session, kit, claims)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT, summary="End every session")
async def logout_all(claims: CurrentUser, session: SessionDep, kit: AuthKitDep) -> Response:
    await sessions.logout_everywhere(session, kit, claims.subject)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", summary="The caller's account, roles and permissions")
async def me(claims: CurrentUser, session: SessionDep) -> UserOut:
    return await _user_out(session, await service.get_user(session, claims.subject))


@router.post("/password/change", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChangeIn, claims: CurrentUser, session: SessionDep, kit: AuthKitDep
) -> Response:
    """Other sessions are logged out; this one stays."""
    await account.change_password(session, kit, claims, body.current_password, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/password/reset-request", status_code=status.HTTP_202_ACCEPTED)
async def request_reset(
    body: ResetRequestIn, session: SessionDep, kit: AuthKitDep
) -> dict[str, str]:
    """Sends a one-time token when the account exists; answers the same either way."""
    await account.request_password_reset(session, kit, body.email)
    return {"detail": "if the account exists, a reset code is on its way"}


@router.get(
    "/email/confirm",
    response_class=HTMLResponse,
    summary="Follow the emailed confirmation link",
    responses={400: {"description": "The link is invalid or already used"}},
)
async def confirm_email(
    session: SessionDep, token: str = Query(min_length=1, max_length=512)
) -> HTMLResponse:
    await account.confirm_email(session, token)
    return HTMLResponse("<!doctype html><title>Kinoteka</title><p>Your email is confirmed.</p>")


@router.post("/password/reset", status_code=status.HTTP_204_NO_CONTENT)
async def reset(body: ResetIn, session: SessionDep, kit: AuthKitDep) -> Response:
    await account.reset_password(session, kit, body.token, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/deactivate", status_code=status.HTTP_204_NO_CONTENT, summary="Close my account")
async def deactivate(
    body: DeactivateIn, claims: CurrentUser, session: SessionDep, kit: AuthKitDep
) -> Response:
    await account.deactivate_own_account(session, kit, claims, body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT, summary="Delete my account")
async def delete_me(
    body: DeleteAccountIn, claims: CurrentUser, session: SessionDep, kit: AuthKitDep
) -> Response:
    """Deletes the account and its data everywhere; the password confirms it is the holder."""
    await account.delete_own_account(session, kit, claims, body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/history", summary="My logins, newest first")
async def history(
    claims: CurrentUser,
    session: SessionDep,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> HistoryPage:
    rows, total = await sessions.login_history(session, claims.subject, page=page, size=size)
    items = [
        LoginOut(created=row.created, ip=row.ip, user_agent=row.user_agent,
                 device_type=row.device_type, method=row.method, outcome=row.outcome)
        for row in rows
    ]  # fmt: skip
    return HistoryPage(items=items, page=page, size=size, total=total)


@router.get("/sessions", summary="My active sessions")
async def list_sessions(claims: CurrentUser, session: SessionDep) -> list[SessionOut]:
    return [
        SessionOut(id=row.id, created=row.created, last_used=row.last_used, ip=row.ip,
                   user_agent=row.user_agent, device_type=row.device_type,
                   current=row.id == claims.session_id)
        for row in await sessions.active_sessions(session, claims.subject)
    ]  # fmt: skip


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_session(
    session_id: uuid.UUID, claims: CurrentUser, session: SessionDep, kit: AuthKitDep
) -> Response:
    await sessions.revoke_session(session, kit, claims.subject, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/roles", summary="Every role and its permissions")
async def list_roles(_: RolesManager, session: SessionDep) -> list[RoleOut]:
    return [
        RoleOut(name=role.name, description=role.description, permissions=role.permissions)
        for role in await roles_service.list_roles(session)
    ]


@router.post("/roles", status_code=status.HTTP_201_CREATED, summary="Create a role")
async def create_role(body: RoleIn, _: RolesManager, session: SessionDep) -> RoleOut:
    role = await roles_service.create_role(session, body.name, body.permissions, body.description)
    return RoleOut(name=role.name, description=role.description, permissions=role.permissions)


@router.post("/users/{user_id}/roles", status_code=status.HTTP_204_NO_CONTENT)
async def grant_role(
    user_id: uuid.UUID, body: GrantIn, _: RolesManager, session: SessionDep, kit: AuthKitDep
) -> Response:
    """Takes effect at once: the user's current tokens are refused until refreshed."""
    await roles_service.grant_role(session, kit, user_id, body.role)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/users/{user_id}/roles/{role}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_role(
    user_id: uuid.UUID, role: str, _: RolesManager, session: SessionDep, kit: AuthKitDep
) -> Response:
    """Takes effect at once; taking super_user from its last active holder is refused (409)."""
    await roles_service.revoke_role(session, kit, user_id, role)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/users/{user_id}/deactivate", status_code=status.HTTP_204_NO_CONTENT)
async def deactivate_user(
    user_id: uuid.UUID, manager: UsersManager, session: SessionDep, kit: AuthKitDep
) -> Response:
    """Refused (409) for the caller's own account and for the last active super user."""
    await account.deactivate(session, kit, user_id, actor=manager.subject)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    user_id: uuid.UUID, manager: UsersManager, session: SessionDep, kit: AuthKitDep
) -> Response:
    """Delete another account and its data everywhere (the holder uses `DELETE /me`)."""
    await account.delete_account(session, kit, user_id, actor=manager.subject)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


jwks_router = APIRouter(tags=["auth"])


@jwks_router.get("/.well-known/jwks.json", summary="Public keys that verify access tokens")
async def jwks(kit: AuthKitDep) -> JSONResponse:
    return JSONResponse(await kit.keys.jwks(), headers={"Cache-Control": "public, max-age=60"})
