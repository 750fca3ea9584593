"""What every page handler shares: the session store, templates, strings and the content reads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode, urlsplit

import jinja2
import structlog
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kinoteka import auth, content, notify
from kinoteka.infra.csrf import csrf_token
from kinoteka.infra.search import SearchError
from kinoteka.services import Services
from kinoteka.web.i18n import N_, Strings, choose_locale, language_menu
from kinoteka.web.page_cache import PageCache
from kinoteka.web.playback import PlaybackSource
from kinoteka.web.session import PageLogin, PageSession, PageSessions
from kinoteka.web.settings import WebSettings

log = structlog.get_logger(__name__)
T = TypeVar("T")

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STRINGS_STATE = "kinoteka_web_strings"
VERSION_STATE = "kinoteka_web_index_version"
NOTICES = {
    "signed_out": N_("You are signed out."),
    "password_changed": N_("Your password is changed; your other devices are signed out."),
    "password_reset": N_("Your password is set. Sign in with it."),
    "email_confirmed": N_("Your email address is confirmed. Thank you."),
    "session_revoked": N_("That device is signed out."),
    "sign_in_to_watch": N_("Sign in to watch films."),
    "account_deleted": N_("Your account and everything kept about it are deleted."),
    "mail_language_saved": N_("Our emails to you will be in the language you chose."),
    "bookmarked": N_("The film is in your bookmarks."),
    "bookmark_removed": N_("The film is out of your bookmarks."),
    "rated": N_("Your score is saved."),
    "rating_removed": N_("Your score is removed."),
    "review_saved": N_("Your review is saved."),
    "review_deleted": N_("Your review is deleted."),
    "review_hidden": N_("The review is hidden."),
    "review_restored": N_("The review is shown again."),
}
"""What a page says after a redirect (`?notice=<code>`), by code."""


def template_environment() -> jinja2.Environment:
    """The pages' Jinja2 environment (also used alone by the benchmark's bare render)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["rating"] = lambda value: "\u2013" if value is None else f"{value:.1f}"
    return env


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to return to after a form; anything else (another site) gives `default`."""
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return default
    return value


class SignInRequired(Exception):
    """The page needs an account; the visitor is sent to sign in and brought back."""


@dataclass(frozen=True)
class Viewer:
    session: PageSession
    login: PageLogin
    claims: auth.AccessClaims


class Reused(Generic[T]):
    """One value, read again once `seconds` have passed or the index `version` moved (one
    reader at a time)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._value: tuple[float, int, T] | None = None
        self._lock = asyncio.Lock()

    def _fresh(self, version: int) -> bool:
        return (
            self._value is not None
            and self._value[1] >= version
            and time.monotonic() - self._value[0] < self.seconds
        )

    async def get(self, read: Callable[[], Awaitable[T]], version: int) -> T:
        value = self._value
        if value is None or not self._fresh(version):
            async with self._lock:
                value = self._value
                if value is None or not self._fresh(version):
                    value = self._value = (time.monotonic(), version, await read())
        return value[2]


@dataclass
class WebKit:
    services: Services
    settings: WebSettings
    sessions: PageSessions
    templates: Jinja2Templates
    playback: PlaybackSource
    home_shelves: Reused[Any] = field(default_factory=lambda: Reused(0))
    pages: PageCache = field(default_factory=lambda: PageCache(0, 0))

    _oauth: Any = None

    def oauth(self) -> Any:
        """Authlib's client registry of the configured providers (None without any)."""
        providers = self.services.settings.auth.oauth_providers
        if not providers:
            return None
        if self._oauth is None:
            self._oauth = auth.build_oauth(providers)
        return self._oauth

    def queries(self) -> content.ContentQueries:
        return content.queries_for(self.services)

    async def index_version(self, request: Request) -> int:
        """The search index's version, read once per request (before any of its reads)."""
        found: int | None = getattr(request.state, VERSION_STATE, None)
        if found is None:
            found = await self.services.search.version()
            setattr(request.state, VERSION_STATE, found)
        return found

    def strings(self, request: Request) -> Strings:
        found: Strings | None = getattr(request.state, STRINGS_STATE, None)
        if found is None:
            found = Strings(choose_locale(request, self.settings.default_locale))
            setattr(request.state, STRINGS_STATE, found)
        return found

    def notice(self, request: Request, code: str | None = None) -> str | None:
        message = NOTICES.get(code or request.query_params.get("notice") or "")
        return self.strings(request).gettext(message) if message else None

    async def browsing(self, request: Request) -> PageSession | None:
        """The visitor's session; refuses anonymous visitors when browsing is closed."""
        session = await self.sessions.current(request)
        if not self.settings.public_browsing and (session is None or session.claims is None):
            raise SignInRequired
        return session

    async def signed_in(self, request: Request) -> Viewer:
        """The signed-in viewer, or `SignInRequired`."""
        session = await self.sessions.current(request)
        if session is None or session.claims is None or session.login is None:
            raise SignInRequired
        return Viewer(session, session.login, session.claims)

    async def form(self, request: Request) -> FormData:
        """The posted form (its CSRF token and origin were checked by the page guard)."""
        return await request.form()

    async def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
    ) -> Response:
        session = await self.sessions.current(request)
        strings = self.strings(request)
        signed_in = session is not None and session.claims is not None
        unread = 0
        if session is not None and session.claims is not None:
            async with self.services.db.session() as db:
                unread = await notify.unread_count(db, session.claims.subject)
        values: dict[str, Any] = {
            "_": strings.gettext,
            "ngettext": strings.ngettext,
            "lang": strings.locale,
            "locales": language_menu(),
            "signed_in": signed_in,
            "unread": unread,
            "csrf_token": csrf_token(request),
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            "public_browsing": self.settings.public_browsing,
            "password_min_length": self.services.settings.auth.password_min_length,
            "notice": self.notice(request),
            **(context or {}),
        }
        response = self.templates.TemplateResponse(
            request, template, values, status_code=status_code
        )
        response.headers["Content-Language"] = strings.locale
        response.headers.setdefault("Cache-Control", "private, no-cache")
        response.headers["Vary"] = "Cookie, Accept-Language"
        return self.sessions.apply_cookie(request, response)

    def redirect(self, request: Request, url: str, status_code: int = 303) -> Response:
        return self.sessions.apply_cookie(request, RedirectResponse(url, status_code=status_code))

    def sign_in_redirect(self, request: Request, next_url: str | None = None) -> Response:
        target = next_url or request.url.path
        return self.redirect(request, "/signin?" + urlencode({"next": target}))


def page_route(kit: WebKit) -> type[APIRoute]:
    """Routes whose failures are pages: sign-in redirects, 404s, refused forms, bad input."""

    class PageRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                if not kit.pages.eligible(request):
                    return await answer(request)
                try:
                    version = await kit.index_version(request)
                except SearchError:
                    return await answer(request)  # the page says the catalog is unavailable
                key = kit.pages.key(version, kit.strings(request).locale, request)
                page = kit.pages.get(key)
                if page is not None:
                    return kit.pages.respond(request, page, "hit")
                response = await answer(request)
                page = kit.pages.put(key, request, response)
                return response if page is None else kit.pages.respond(request, page, "miss")

            async def answer(request: Request) -> Response:
                try:
                    return await handler(request)
                except SignInRequired:
                    return kit.sign_in_redirect(request)
                except content.NotFound:
                    return await _problem(kit, request, 404, N_("Nothing here: no such page."))
                except RequestValidationError:
                    return await _problem(
                        kit, request, 400, N_("That address has a wrong parameter.")
                    )
                except SearchError as error:
                    log.warning("web.search_unavailable", error=str(error))
                    message = N_("The catalog is unavailable for a moment. Try again shortly.")
                    return await _problem(kit, request, 503, message)

            return handle

    return PageRoute


async def _problem(kit: WebKit, request: Request, status_code: int, message: str) -> Response:
    text = kit.strings(request).gettext(message)
    return await kit.render(
        request, "problem.html", {"message": text, "status": status_code}, status_code=status_code
    )
