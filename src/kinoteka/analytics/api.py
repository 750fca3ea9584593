"""HTTP of the analytics context: the collector (+ the seed's aliases) and the dashboards' data.

Bodies are read here with a size cap and parsed by the collector event by event, so one bad
event refuses only itself; the OpenAPI schema still documents the batch's full shape.
"""

from __future__ import annotations

import copy
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, TypeAdapter

from kinoteka.analytics import dashboards
from kinoteka.analytics.collector import BatchTooLarge, BusUnavailable, collect
from kinoteka.analytics.schemas import BatchAnswer, PlayerEvent
from kinoteka.analytics.topics import PlayerEventType
from kinoteka.auth import AccessClaims, CurrentUser, require_permission
from kinoteka.services import ServicesDep, SessionDep

VIEW_PERMISSION = "analytics.view"
RETRY_AFTER = "5"

router = APIRouter(tags=["analytics"])
Viewer = Annotated[AccessClaims, Depends(require_permission(VIEW_PERMISSION))]


class _BatchDoc(BaseModel):
    schema_version: int = Field(1, description="Always 1.")
    playback_id: uuid.UUID | None = Field(None, description="One id per playback.")
    events: list[PlayerEvent] = Field(min_length=1)


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its `$defs` references written out (OpenAPI has no `$defs`)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                return resolve(copy.deepcopy(definitions[reference.removeprefix("#/$defs/")]))
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_BATCH_SCHEMA = _inline(_BatchDoc.model_json_schema())
_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or invalid access token."},
    413: {"description": "Body or batch larger than allowed."},
    422: {"description": "Nothing in the batch was valid.", "model": BatchAnswer},
    503: {"description": "The bus is down: nothing was counted, resend later."},
}


async def _read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"body is not JSON: {error}"
        ) from None


async def _collect(
    services: ServicesDep, session: SessionDep, user: AccessClaims, body: Any, source: str
) -> JSONResponse:
    settings = services.settings.analytics
    try:
        answer = await collect(
            session,
            services.bus,
            user.subject,
            body,
            max_events=settings.max_batch_events,
            source=source,
        )
    except BatchTooLarge as error:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(error)) from None
    except BusUnavailable:
        # Answered, not raised: the refused events are kept (the session commits) all the same.
        return JSONResponse(
            {"detail": "the event bus is unavailable; resend the batch later"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": RETRY_AFTER},
        )
    code = status.HTTP_202_ACCEPTED if answer.accepted else status.HTTP_422_UNPROCESSABLE_CONTENT
    return JSONResponse(answer.model_dump(mode="json"), status_code=code)


@router.post(
    "/api/v1/events",
    summary="Send a batch of player events",
    description="Each event is checked alone: valid ones are taken (202), refused ones are "
    "listed with their reason and kept for inspection; a batch with no valid event is 422. "
    "Resending a batch is safe: events are counted once by `event_id`.",
    response_model=BatchAnswer,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_ANSWERS,
    openapi_extra=_body_doc(_BATCH_SCHEMA),
)
async def post_events(
    request: Request, services: ServicesDep, session: SessionDep, user: CurrentUser
) -> JSONResponse:
    body = await _read_json(request, services.settings.analytics.max_body_bytes)
    return await _collect(services, session, user, body, "api/v1/events")


def _alias(kind: PlayerEventType, path: str) -> None:
    schema = _inline(TypeAdapter(PlayerEvent).json_schema())

    async def endpoint(
        request: Request, services: ServicesDep, session: SessionDep, user: CurrentUser
    ) -> JSONResponse:
        event = await _read_json(request, services.settings.analytics.max_body_bytes)
        if isinstance(event, dict):
            event = {**event, "type": kind.value}
        batch = {"schema_version": 1, "events": [event]}
        return await _collect(services, session, user, batch, path.removeprefix("/"))

    endpoint.__name__ = f"post_{kind.value}"
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        summary=f"One `{kind.value}` event (the seed's endpoint; prefer /api/v1/events)",
        response_model=BatchAnswer,
        status_code=status.HTTP_202_ACCEPTED,
        responses=_ANSWERS,
        deprecated=True,
        openapi_extra=_body_doc(schema),
    )


_alias(PlayerEventType.PAUSE, "/api/pause")
_alias(PlayerEventType.FULL_VIEW, "/api/full-view")
_alias(PlayerEventType.QUALITY_CHANGE, "/api/quality-change")


@router.get(
    "/api/v1/analytics/dashboard",
    summary="Every dashboard chart's figures (needs analytics.view)",
    response_model=dashboards.Dashboard,
)
async def dashboard(
    services: ServicesDep,
    _viewer: Viewer,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> dashboards.Dashboard:
    return await dashboards.load_dashboard(
        services.analytics_store, services.settings.analytics.database, days=days
    )


@router.get(
    "/api/v1/analytics/charts/{chart}.svg",
    summary="One dashboard chart drawn as SVG (needs analytics.view)",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, 404: {"description": "No such chart."}},
)
async def chart_svg(
    chart: str,
    services: ServicesDep,
    _viewer: Viewer,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Response:
    if chart not in dashboards.CHARTS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no chart {chart!r}")
    board = await dashboards.load_dashboard(
        services.analytics_store, services.settings.analytics.database, days=days
    )
    return Response(dashboards.render_svg(board, chart), media_type="image/svg+xml")


def install(app: FastAPI) -> None:
    app.include_router(router)
