"""The HTTP app: one FastAPI app mounting every context (`kinoteka up`) or just one (`serve`).

The composition root, with `clients.py` (which builds the shared clients) and `cli.py`: a
context joins by adding its `ContextMount` (`kinoteka.mounting`) to `available_contexts()`.
The app opens the clients the chosen contexts use and serves the routes those clients serve
themselves (the local storage's signed downloads), once.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from kinoteka.api_docs import install_api_docs
from kinoteka.error_responses import install_error_responses
from kinoteka.mounting import AdminSection, ContextMount
from kinoteka.services import ClientName, Services

log = structlog.get_logger(__name__)

HEALTH_TIMEOUT = 3.0


def available_contexts() -> dict[str, ContextMount]:
    """Every context that serves HTTP, by the name `kinoteka serve <name>` takes."""
    from kinoteka.analytics.mount import analytics_mount
    from kinoteka.auth.mount import auth_mount
    from kinoteka.catalog.mount import admin_mount, catalog_mount
    from kinoteka.content.mount import content_mount
    from kinoteka.media.mount import media_mount
    from kinoteka.notify.mount import notify_mount
    from kinoteka.search.mount import search_mount
    from kinoteka.ugc.mount import ugc_mount
    from kinoteka.web.mount import web_mount

    mounts: list[ContextMount] = [
        catalog_mount(),
        admin_mount(),
        search_mount(),
        content_mount(),
        auth_mount(),
        analytics_mount(),
        media_mount(),
        web_mount(),
        notify_mount(),
        ugc_mount(),
    ]
    return {mount.name: mount for mount in mounts}


REQUEST_ID_HEADER = b"x-request-id"
MAX_REQUEST_ID_LENGTH = 128


def _given_request_id(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == REQUEST_ID_HEADER:  # ASGI servers give header names in lower case
            return value.decode("latin-1") if 0 < len(value) <= MAX_REQUEST_ID_LENGTH else None
    return None


class RequestIdMiddleware:
    """Accept `X-Request-Id` or make one; bind it to every log line; return it.

    Pure ASGI (not `BaseHTTPMiddleware`, which re-wraps the request and response streams): the
    body passes through untouched, so large uploads and streamed answers cost nothing here.
    It runs on every request, so it reads and writes the raw header lists itself (Starlette's
    `Headers`/`MutableHeaders` would cost more than the rest of it) and makes an id from 16
    random bytes (as `uuid4().hex`, without building a UUID).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _given_request_id(scope["headers"]) or os.urandom(16).hex()
        # For the error handlers, which answer outside this middleware's scope.
        scope.setdefault("state", {})["request_id"] = request_id
        header = (REQUEST_ID_HEADER, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The app may have named the id itself (the error handlers do): one header.
                given = message.get("headers", ())
                headers = [item for item in given if item[0].lower() != REQUEST_ID_HEADER]
                headers.append(header)
                message["headers"] = headers
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")


async def _timed_check(check: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), HEALTH_TIMEOUT)
    except Exception as error:  # a failing store is reported, not raised
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}


def create_app(
    services: Services,
    contexts: Sequence[str] | None = None,
    *,
    run_background: bool = False,
) -> FastAPI:
    """Build the app over shared `services`; `contexts=None` mounts them all."""
    mounts = available_contexts()
    chosen = list(mounts) if contexts is None else list(contexts)
    unknown = [name for name in chosen if name not in mounts]
    if unknown:
        raise ValueError(f"unknown context(s): {', '.join(unknown)}; known: {', '.join(mounts)}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # Pushed first, so it runs last: every background worker and lifespan has stopped
            # before the clients they use (database, broker, SMTP) close under them.
            stack.push_async_callback(services.close)
            # Contexts sharing a resource share its lifespan (catalog and admin both prepare
            # the storage): each distinct one is entered once.
            entered: set[object] = set()
            for name in chosen:
                mount = mounts[name]
                hooks = [mount.lifespan, mount.background if run_background else None]
                for hook in hooks:
                    if hook is not None and hook not in entered:
                        entered.add(hook)
                        await stack.enter_async_context(hook(services))
            yield

    app = FastAPI(
        title="Kinoteka",
        summary="Open-source online cinema: catalog, search, accounts, streaming.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served offline by install_api_docs, and no CDN-loaded ReDoc
        redoc_url=None,
    )
    app.state.services = services
    app.add_middleware(RequestIdMiddleware)
    if services.settings.trusted_proxies:
        # Outermost, so every part of the app (rate limits, login history, the admin) sees the
        # client the trusted proxy forwarded; from anyone else the headers are ignored.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=services.settings.trusted_proxies)

    used: list[ClientName] = []
    for name in chosen:
        used += [client for client in mounts[name].uses if client not in used]
    for client in used:
        services.open(client)
        if client in services.routes:
            app.include_router(services.routes[client])
    if "admin" in chosen:
        # Every context's back-office pages, for the admin mount to register.
        sections: list[AdminSection] = []
        for mount in mounts.values():
            if mount.admin is not None:
                sections += mount.admin(services)
        app.state.admin_sections = sections
    for name in chosen:
        mounts[name].install(app, services)
    # The docs and the health check after the contexts' routes: FastAPI tries routes in order,
    # and a context's most read routes (the rating summary, the film pages) would otherwise
    # pay for failed matches against these on every request. No context route overlaps them
    # (tests/test_api_docs.py and `kinoteka up`'s test in tests/test_cli.py reach them on the
    # full app).
    install_api_docs(app)

    @app.get("/health", tags=["health"], summary="Whether every store answers")
    async def health() -> JSONResponse:
        names = list(services.health_checks)
        results = await asyncio.gather(*(_timed_check(services.health_checks[n]) for n in names))
        stores = dict(zip(names, results, strict=True))
        healthy = all(result["ok"] for result in results)
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "stores": stores},
            status_code=200 if healthy else 503,
        )

    install_error_responses(app)
    return app
