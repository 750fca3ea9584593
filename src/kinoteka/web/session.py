"""Page sessions: a random id in an HttpOnly cookie, everything else server-side in the cache.

Only a signed-in viewer has one: signing in makes a new id (none is ever promoted, so no
fixation) holding the account's access and refresh tokens; signing out deletes it. The
access token is checked (signature, revocation) on every request and renewed shortly before
it expires, one renewal per session at a time, as the admin does.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog
from fastapi import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from kinoteka import auth
from kinoteka.services import Services
from kinoteka.settings import Environment

log = structlog.get_logger(__name__)

COOKIE = "kinoteka_session"
REFRESH_MARGIN = 30  # seconds before expiry at which the access token is renewed
STATE = "kinoteka_web_session"


@dataclass
class PageLogin:
    user_id: str
    email: str
    access_token: str
    refresh_token: str
    expires_at: float

    @classmethod
    def from_pair(cls, pair: auth.TokenPair, email: str) -> PageLogin:
        return cls(str(pair.claims.subject), email, pair.access_token, pair.refresh_token,
                   time.time() + pair.expires_in)  # fmt: skip


@dataclass
class PageSession:
    sid: str
    login: PageLogin | None = None
    claims: auth.AccessClaims | None = field(default=None, compare=False)
    set_cookie: bool = field(default=False, compare=False)
    """True when the browser does not hold this id yet (new or rotated)."""

    def dump(self) -> str:
        return json.dumps({"login": asdict(self.login) if self.login else None})

    @classmethod
    def load(cls, sid: str, raw: bytes) -> PageSession:
        data: dict[str, Any] = json.loads(raw)
        login = data.get("login")
        return cls(sid, PageLogin(**login) if login else None)


def client_info(request: Request) -> auth.ClientInfo:
    return auth.ClientInfo(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


class PageSessions:
    """The cache-backed session store of the web pages of one app."""

    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings.web
        self.max_age = settings.session_max_age
        secure = settings.secure_cookies
        self.secure = (
            services.settings.env is not Environment.DEVELOPMENT if secure is None else secure
        )
        # A refresh token works once: two requests of one session must not both spend it.
        self._refreshing: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @staticmethod
    def _key(sid: str) -> str:
        return f"web:session:{sid}"

    async def save(self, session: PageSession) -> None:
        await self.services.cache.set(self._key(session.sid), session.dump(), ttl=self.max_age)

    async def _load(self, sid: str) -> PageSession | None:
        raw = await self.services.cache.get(self._key(sid))
        return PageSession.load(sid, raw) if raw else None

    async def current(self, request: Request) -> PageSession | None:
        """The request's session with verified claims when signed in; cached per request."""
        if hasattr(request.state, STATE):
            found: PageSession | None = getattr(request.state, STATE)
            return found
        sid = request.cookies.get(COOKIE)
        session = await self._load(sid) if sid and len(sid) < 100 else None
        if session is not None and session.login is not None:
            session.claims = await self._claims(request, session)
        setattr(request.state, STATE, session)
        return session

    async def _claims(self, request: Request, session: PageSession) -> auth.AccessClaims | None:
        kit = auth.get_auth_kit(self.services)
        if session.login is None:
            return None
        if session.login.expires_at - REFRESH_MARGIN <= time.time():
            lock = self._refreshing.setdefault(session.sid, asyncio.Lock())
            async with lock:
                session.login = await self._refreshed(request, session.sid)
            if session.login is None:
                return None
        try:
            return await auth.check_access_token(kit, session.login.access_token)
        except HTTPException:
            # Revoked (signed out elsewhere, password changed): the session becomes anonymous.
            session.login = None
            await self.save(session)
            return None

    async def _refreshed(self, request: Request, sid: str) -> PageLogin | None:
        """The session's tokens, renewed unless another request just did it."""
        stored = await self._load(sid)
        if stored is None or stored.login is None:
            return None
        login = stored.login
        if login.expires_at - REFRESH_MARGIN > time.time():
            return login
        try:
            async with self.services.db.session() as db:
                pair = await auth.refresh_session(
                    db, auth.get_auth_kit(self.services), login.refresh_token, client_info(request)
                )
        except auth.AuthError as error:
            log.info("web.refresh_failed", user_id=login.user_id, reason=str(error))
            stored.login = None
            await self.save(stored)
            return None
        stored.login = PageLogin.from_pair(pair, login.email)
        await self.save(stored)
        return stored.login

    async def sign_in(self, request: Request, pair: auth.TokenPair, email: str) -> PageSession:
        """A new session id for the account (the old one, if any, is dropped)."""
        old = await self.current(request)
        if old is not None:
            await self.services.cache.delete(self._key(old.sid))
        session = PageSession(secrets.token_urlsafe(32), PageLogin.from_pair(pair, email))
        session.claims = pair.claims
        session.set_cookie = True
        await self.save(session)
        setattr(request.state, STATE, session)
        return session

    async def sign_out(self, request: Request) -> None:
        session = await self.current(request)
        if session is None:
            return
        if session.claims is not None:
            async with self.services.db.session() as db:
                await auth.log_out(db, auth.get_auth_kit(self.services), session.claims)
        await self.services.cache.delete(self._key(session.sid))
        setattr(request.state, STATE, None)
        request.state.kinoteka_web_clear_cookie = True

    async def forget(self, request: Request) -> None:
        """Drop the session without logging out (its account and sessions are gone already)."""
        session = await self.current(request)
        if session is not None:
            await self.services.cache.delete(self._key(session.sid))
        setattr(request.state, STATE, None)
        request.state.kinoteka_web_clear_cookie = True

    def apply_cookie(self, request: Request, response: Response) -> Response:
        """Hand the browser the session id when it is new to it."""
        session: PageSession | None = getattr(request.state, STATE, None)
        if session is None and getattr(request.state, "kinoteka_web_clear_cookie", False):
            response.delete_cookie(
                COOKIE, path="/", secure=self.secure, httponly=True, samesite="lax"
            )
        elif session is not None and session.set_cookie:
            response.set_cookie(
                COOKIE,
                session.sid,
                max_age=self.max_age,
                path="/",
                secure=self.secure,
                httponly=True,
                samesite="lax",
            )
        return response
