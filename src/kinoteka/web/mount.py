"""How the web pages join the app: their routes, static files, vendor assets from node_modules.

Front-end libraries come from npm (root `package.json` + lockfile, installed by the Makefile)
and are served straight from `node_modules/<package>/dist`, so nothing is copied by hand and
nothing is fetched from a CDN at run time.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from kinoteka import analytics, auth
from kinoteka.infra.csrf import CSRFMiddleware
from kinoteka.mounting import ContextMount
from kinoteka.services import Services
from kinoteka.web.accounts import accounts_router
from kinoteka.web.inbox import inbox_router
from kinoteka.web.kit import HERE, Reused, WebKit, template_environment
from kinoteka.web.opinions import opinions_router
from kinoteka.web.page_cache import GZIP_LEVEL, PageCache
from kinoteka.web.pages import catalog_router
from kinoteka.web.playback import PlaybackSource
from kinoteka.web.session import PageSessions

log = structlog.get_logger(__name__)

NODE_MODULES = HERE.parents[2] / "node_modules"
VENDOR = {  # URL name -> the package's directory of built files
    "htmx": "htmx.org/dist",
    "hls": "hls.js/dist",
    "dash": "dashjs/dist",
}
# Video segments are compressed already, byte ranges must stay ranges of the file, and an
# event stream must not wait in a compressor's buffer.
UNCOMPRESSED_PREFIXES = ("/api/", "/admin", "/health", "/storage", "/media/", "/web/inbox/stream")
# Not pages: the APIs take tokens, not cookies; the admin mounts the same guard itself.
UNGUARDED_PREFIXES = ("/api/", "/admin", "/health", "/storage", "/media/", "/static/", "/docs",
                      "/redoc", "/openapi.json")  # fmt: skip


class PageCompression:
    """gzip for the pages and their assets, leaving the APIs' responses as they are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=800, compresslevel=GZIP_LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope["path"]).startswith(UNCOMPRESSED_PREFIXES):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class PageGuard:
    """The site's CSRF guard (`kinoteka.infra.csrf`, as the admin's) on the pages' requests."""

    def __init__(self, app: ASGIApp, *, secret: str, secure: bool) -> None:
        self.app = app
        self.guard = CSRFMiddleware(app, secret=secret, secure=secure)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope["path"]).startswith(UNGUARDED_PREFIXES):
            await self.guard(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def build_kit(app: FastAPI, services: Services) -> WebKit:
    settings = services.settings.web
    templates = Jinja2Templates(env=template_environment())
    return WebKit(
        services=services,
        settings=settings,
        sessions=PageSessions(services),
        templates=templates,
        playback=PlaybackSource(app, settings.media_api_url),
        home_shelves=Reused(settings.home_cache_seconds),
        pages=PageCache(settings.page_cache_entries, settings.page_cache_seconds),
    )


def install_web(app: FastAPI, services: Services) -> None:
    kit = build_kit(app, services)
    auth.on_account_deleted(analytics.forget_account)  # its refused player events go with it
    app.include_router(catalog_router(kit))
    app.include_router(accounts_router(kit))
    app.include_router(inbox_router(kit))
    app.include_router(opinions_router(kit))
    app.mount("/static/web", StaticFiles(directory=HERE / "static"), name="web_static")
    for name, directory in VENDOR.items():
        path: Path = NODE_MODULES / directory
        if not path.is_dir():
            log.warning("web.vendor_missing", package=directory, hint="run `make up` (npm ci)")
        app.mount(
            f"/static/vendor/{name}",
            StaticFiles(directory=path, check_dir=False),
            name=f"vendor_{name}",
        )
    app.add_middleware(
        PageGuard,
        secret=services.settings.secret_key.get_secret_value(),
        secure=kit.sessions.secure,
    )
    app.add_middleware(PageCompression)


def web_mount() -> ContextMount:
    # The pages read the catalog through the content service's index, sign in through auth,
    # and keep viewers' bookmarks, ratings, reviews and watch progress through ugc.
    return ContextMount("web", install_web, uses=("search", "auth", "ugc"))
