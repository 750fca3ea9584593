"""How the app answers what its routes did not: a store outage (JSON 503) or a bug (JSON 500).

Installed on the app and on every Starlette sub-app it mounts (the SQLAdmin panel), since a
mounted app answers its own errors before the outer app could. A `StoreUnavailable` from any
port becomes `503 {"detail": "redis unavailable", "store": "redis"}` with `Retry-After`; any
other unhandled exception becomes `500 {"detail": "internal server error", "request_id": …}`,
logged with its traceback and the request id, never Starlette's text/plain page.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.routing import Mount

from kinoteka.infra import db as db_port
from kinoteka.infra.outage import StoreUnavailable

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"


def request_id_of(request: Request) -> str:
    """The id `RequestIdMiddleware` gave this request (kept in its state), else a new one."""
    request_id = getattr(request.state, "request_id", None)
    return request_id if isinstance(request_id, str) else uuid.uuid4().hex


def unavailable_response(request: Request, error: StoreUnavailable) -> JSONResponse:
    request_id = request_id_of(request)
    log.warning(
        "store.unavailable",
        store=error.store,
        error=str(error)[:300],
        path=request.url.path,
        request_id=request_id,
    )
    return JSONResponse(
        {"detail": f"{error.store} unavailable, try again shortly", "store": error.store},
        status_code=503,
        headers={"Retry-After": str(error.retry_after), REQUEST_ID_HEADER: request_id},
    )


async def store_unavailable_handler(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, StoreUnavailable):  # registered for StoreUnavailable only
        raise error
    return unavailable_response(request, error)


# Raised by the database driver where no unit of work translated it (a raw engine connection):
# answered here, an outage as a 503, anything else as the JSON 500.
DRIVER_ERRORS: tuple[type[Exception], ...] = (DBAPIError, PoolTimeout)


async def unhandled_error_handler(request: Request, error: Exception) -> JSONResponse:
    """A JSON 503 when `error` is a database outage, else the JSON 500, logged."""
    unavailable = db_port.outage(error)
    if unavailable is not None:
        return unavailable_response(request, unavailable)
    request_id = request_id_of(request)
    log.error(
        "request.unhandled_error",
        path=request.url.path,
        method=request.method,
        request_id=request_id,
        exc_info=error,
    )
    return JSONResponse(
        {"detail": "internal server error", "request_id": request_id},
        status_code=500,
        headers={REQUEST_ID_HEADER: request_id},
    )


def install_error_responses(app: FastAPI) -> None:
    """On `app` and each Starlette app mounted in it: the 503 and the catch-all 500."""
    apps: list[Starlette] = [app]
    apps += [
        route.app
        for route in app.routes
        if isinstance(route, Mount) and isinstance(route.app, Starlette)
    ]
    handlers: list[tuple[type[Exception], Any]] = [
        (StoreUnavailable, store_unavailable_handler),
        *((kind, unhandled_error_handler) for kind in DRIVER_ERRORS),
        # `Exception` goes to Starlette's ServerErrorMiddleware: the JSON answer is sent, then
        # the exception re-raised for the server to log, as Starlette does for every 500.
        (Exception, unhandled_error_handler),
    ]
    for each in apps:
        for kind, handler in handlers:
            # A context that answers one of these its own way (an HTML page) keeps its handler.
            each.exception_handlers.setdefault(kind, handler)
