"""Who enters the admin: login through the auth service, tokens kept server-side, refreshed.

The browser holds only a random admin-session id in a signed cookie; the access and refresh
tokens live in the cache under that id. Every request checks the access token (signature and
revocation) and refreshes it shortly before it expires, or at once when an account change (a
role granted or revoked) voided it, so the panel follows roles from the next request. Only
accounts with `admin.access` enter; `roles.manage` additionally opens the accounts view.
Everyone else gets a refusal page.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import weakref
from dataclasses import asdict, dataclass
from typing import Any

import structlog
from fastapi import HTTPException
from sqladmin.authentication import AuthenticationBackend
from sqladmin.authorization import WILDCARD, GrantsAuthorizationBackend
from starlette.requests import Request
from starlette.responses import Response

from kinoteka.auth import (
    AccessClaims,
    AuthError,
    AuthKit,
    ClientInfo,
    Permission,
    TokenPair,
    TooManyAttempts,
    check_access_token,
    get_auth_kit,
    log_in,
    log_out,
    refresh_session,
)
from kinoteka.catalog.settings import AdminSettings
from kinoteka.mounting import ADMIN_CLAIMS_STATE
from kinoteka.services import Services
from kinoteka.settings import Environment

log = structlog.get_logger(__name__)

SESSION_KEY = "admin_session"
CLAIMS_STATE = ADMIN_CLAIMS_STATE
REFRESH_MARGIN = 30  # seconds before expiry at which the access token is renewed
ACCOUNTS_VIEW = "user"


@dataclass
class AdminLogin:
    """What the cache keeps per admin session."""

    user_id: str
    email: str
    access_token: str
    refresh_token: str
    expires_at: float

    @classmethod
    def from_pair(cls, pair: TokenPair, email: str) -> AdminLogin:
        return cls(str(pair.claims.subject), email, pair.access_token, pair.refresh_token,
                   time.time() + pair.expires_in)  # fmt: skip


def _client(request: Request) -> ClientInfo:
    return ClientInfo(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


class AdminAuthentication(AuthenticationBackend):
    def __init__(self, services: Services, settings: AdminSettings) -> None:
        super().__init__(
            secret_key=services.settings.secret_key.get_secret_value(),
            session_cookie="kinoteka_admin",
            max_age=settings.session_max_age,
            # Starlette's session cookie is HttpOnly always; Secure in production, where the
            # admin is served over HTTPS, or whenever the setting asks for it.
            https_only=settings.https_only or services.settings.env is Environment.PRODUCTION,
            same_site="lax",
        )
        self.services = services
        self.ttl = settings.session_max_age
        self.templates: Any = None  # the admin's templates, set once the Admin exists
        # A refresh token works once: concurrent requests of one session must not both spend
        # it (auth would take the second use for a stolen token and revoke the session).
        self._refreshing: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def _key(self, sid: str) -> str:
        return f"admin:session:{sid}"

    async def _save(self, sid: str, login: AdminLogin) -> None:
        await self.services.cache.set(self._key(sid), json.dumps(asdict(login)), ttl=self.ttl)

    async def _load(self, sid: str) -> AdminLogin | None:
        raw = await self.services.cache.get(self._key(sid))
        return AdminLogin(**json.loads(raw)) if raw else None

    async def refused(self, request: Request, email: str | None) -> Response:
        response: Response = await self.templates.TemplateResponse(
            request, "kinoteka/refused.html", {"email": email}, status_code=403
        )
        return response

    async def _login_error(self, request: Request, message: str) -> Response:
        response: Response = await self.templates.TemplateResponse(
            request, "sqladmin/login.html", {"error": message}, status_code=400
        )
        return response

    async def login(self, request: Request) -> Response | bool:
        form = await request.form()
        email, password = str(form.get("username") or ""), str(form.get("password") or "")
        kit = get_auth_kit(self.services)
        try:
            async with self.services.db.session() as session:
                pair = await log_in(session, kit, email, password, _client(request))
        except TooManyAttempts as error:
            return await self._login_error(request, str(error))
        except AuthError:
            return False
        if not pair.claims.has(Permission.ADMIN_ACCESS):
            log.info("admin.refused", user_id=str(pair.claims.subject))
            async with self.services.db.session() as session:
                await log_out(session, kit, pair.claims)
            return await self.refused(request, email)
        sid = secrets.token_urlsafe(32)
        await self._save(sid, AdminLogin.from_pair(pair, email.strip().lower()))
        request.session.clear()
        request.session[SESSION_KEY] = sid
        request.session["user_id"] = str(pair.claims.subject)
        log.info("admin.login", user_id=str(pair.claims.subject))
        return True

    async def _current(self, request: Request) -> tuple[AdminLogin, AccessClaims] | None:
        sid = request.session.get(SESSION_KEY)
        login = await self._load(sid) if sid else None
        if sid is None or login is None:
            return None
        kit = get_auth_kit(self.services)
        if login.expires_at - REFRESH_MARGIN <= time.time():
            lock = self._refreshing.setdefault(sid, asyncio.Lock())
            async with lock:
                login = await self._refreshed(request, sid)
            if login is None:
                return None
        try:
            claims = await check_access_token(kit, login.access_token)
        except HTTPException:
            # Voided by a role change (or revoked): a refresh carries the roles that hold now,
            # and fails when the session or the account is gone.
            stale = login.access_token
            lock = self._refreshing.setdefault(sid, asyncio.Lock())
            async with lock:
                login = await self._refreshed(request, sid, replacing=stale)
            renewed = await self._checked(kit, login)
            if login is None or renewed is None:
                await self.services.cache.delete(self._key(sid))
                return None
            claims = renewed
        return login, claims

    @staticmethod
    async def _checked(kit: AuthKit, login: AdminLogin | None) -> AccessClaims | None:
        if login is None:
            return None
        try:
            return await check_access_token(kit, login.access_token)
        except HTTPException:
            return None

    async def _refreshed(
        self, request: Request, sid: str, *, replacing: str | None = None
    ) -> AdminLogin | None:
        """The session's tokens, renewed unless another request just did it.

        `replacing` names a token that must be replaced even though it has not expired.
        """
        login = await self._load(sid)
        if login is None:
            return None
        if replacing is not None:
            if login.access_token != replacing:
                return login
        elif login.expires_at - REFRESH_MARGIN > time.time():
            return login
        try:
            async with self.services.db.session() as session:
                pair = await refresh_session(
                    session, get_auth_kit(self.services), login.refresh_token, _client(request)
                )
        except AuthError as error:
            log.info("admin.refresh_failed", user_id=login.user_id, reason=str(error))
            await self.services.cache.delete(self._key(sid))
            return None
        login = AdminLogin.from_pair(pair, login.email)
        await self._save(sid, login)
        return login

    async def authenticate(self, request: Request) -> Response | bool:
        current = await self._current(request)
        if current is None:
            request.session.clear()
            return False
        login, claims = current
        if not claims.has(Permission.ADMIN_ACCESS):  # the role was taken away since login
            return await self.refused(request, login.email)
        setattr(request.state, CLAIMS_STATE, claims)
        request.state.kinoteka_admin_email = login.email
        return True

    async def logout(self, request: Request) -> Response | bool:
        sid = request.session.get(SESSION_KEY)
        current = await self._current(request)
        if current is not None:
            async with self.services.db.session() as session:
                await log_out(session, get_auth_kit(self.services), current[1])
            log.info("admin.logout", user_id=current[0].user_id)
        if sid:
            await self.services.cache.delete(self._key(sid))
        request.session.clear()
        return False

    async def get_user_id(self, request: Request) -> Any:
        claims: AccessClaims | None = getattr(request.state, CLAIMS_STATE, None)
        return str(claims.subject) if claims else None


class AdminGrants(GrantsAuthorizationBackend):
    """Catalog views for `admin.access`; the accounts view only for `roles.manage`; each other
    context's section (`AdminSection`) only for the permission it names."""

    def __init__(self, identities: list[str], sections: dict[str, str] | None = None) -> None:
        self.identities = identities
        self.sections = dict(sections or {})
        self.sections[ACCOUNTS_VIEW] = Permission.ROLES_MANAGE

    async def get_grants(self, request: Request) -> set[tuple[str, str]]:
        claims: AccessClaims | None = getattr(request.state, CLAIMS_STATE, None)
        if claims is None or not claims.has(Permission.ADMIN_ACCESS):
            return set()
        grants = {
            (identity, WILDCARD) for identity in self.identities if identity not in self.sections
        }
        grants |= {
            (identity, WILDCARD)
            for identity, permission in self.sections.items()
            if claims.has(permission)
        }
        return grants


def actor_of(request: Request) -> tuple[str | None, str | None]:
    claims: AccessClaims | None = getattr(request.state, CLAIMS_STATE, None)
    email: str | None = getattr(request.state, "kinoteka_admin_email", None)
    return (str(claims.subject) if claims else None), email
