"""The analytics page in the back office (`/admin/analytics`, SQLAdmin), for `analytics.view`.

The dashboards' six charts (`dashboards.render_svg`, drawn on the server with their text
escaped there) and the key numbers over the last 7, 30 or 90 days, chosen with a GET form.
A period outside those is refused (400, with the reason); an analytics store that cannot be
reached, or refuses the dashboards' queries, is a 503 page saying so. The JSON and SVG API
(`/api/v1/analytics/…`) stays for API clients.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from markupsafe import Markup
from sqladmin import BaseView, expose
from starlette.requests import Request
from starlette.responses import Response

from kinoteka import catalog
from kinoteka.analytics import dashboards
from kinoteka.auth import Permission
from kinoteka.infra.analytics import AnalyticsStoreError
from kinoteka.infra.outage import StoreUnavailable
from kinoteka.mounting import AdminSection
from kinoteka.services import Services

log = structlog.get_logger(__name__)

IDENTITY = "analytics"
TEMPLATES = Path(__file__).resolve().parent / "admin_templates"
PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
FILM_VIEW = "film-work"
"""The catalog's film page in this admin, where a top film's id links to."""


def _use_templates(loader: Any) -> None:
    """Let the admin's Jinja environment find this context's pages under `analytics/`."""
    ours = PrefixLoader({"analytics": FileSystemLoader(str(TEMPLATES / "analytics"))})
    if isinstance(loader, ChoiceLoader) and not any(
        isinstance(x, PrefixLoader) and "analytics" in x.mapping for x in loader.loaders
    ):
        loader.loaders = [*loader.loaders, ours]


def period_of(text: str | None) -> int:
    """The `days` query parameter: one of `PERIODS`, `DEFAULT_PERIOD` when absent."""
    if text is None or text == "":
        return DEFAULT_PERIOD
    if text.isdigit() and int(text) in PERIODS:
        return int(text)
    choices = ", ".join(str(p) for p in PERIODS)
    raise ValueError(f"days: {text[:20]!r} is not one of {choices}")


def dashboard_sections(services: Services) -> Sequence[AdminSection]:
    """The analytics page over this app's `services` (one view class per app)."""

    class Analytics(BaseView):
        name = "Analytics"
        icon = "fa-solid fa-chart-column"

        def __init__(self) -> None:
            super().__init__()
            _use_templates(self.templates.env.loader)

        async def _render(
            self, request: Request, context: dict[str, Any], status_code: int = 200
        ) -> Response:
            base = str(request.url_for("admin:index")).rstrip("/")
            page = {
                "title": "Analytics",
                "subtitle": "What viewers watch, finish, pause and switch",
                "page_url": f"{base}/analytics",
                "film_url": f"{base}/{FILM_VIEW}/details/",
                "periods": PERIODS,
                "days": DEFAULT_PERIOD,
                "board": None,
                "charts": [],
                "error": None,
            }
            response: Response = await self.templates.TemplateResponse(
                request, "analytics/dashboards.html", page | context, status_code=status_code
            )
            return response

        @expose("/analytics", methods=["GET"], identity=IDENTITY)
        async def page(self, request: Request) -> Response:
            try:
                days = period_of(request.query_params.get("days"))
            except ValueError as refused:
                return await self._render(request, {"error": str(refused)}, status_code=400)
            settings = services.settings.analytics
            try:
                board = await dashboards.load_dashboard(
                    services.analytics_store, settings.database, days=days
                )
            except (StoreUnavailable, AnalyticsStoreError) as failure:
                log.warning("analytics.admin_store_failed", error=str(failure))
                reason = f"The analytics store could not answer ({failure}); try again later."
                answer = await self._render(request, {"days": days, "error": reason}, 503)
                answer.headers["Retry-After"] = str(getattr(failure, "retry_after", 5))
                return answer
            async with services.db.session() as session:
                titles = await catalog.film_titles(session, [f.film_id for f in board.top_films])
            charts = [
                (
                    chart,
                    dashboards.TITLES[chart],
                    Markup(dashboards.render_svg(board, chart, titles=titles)),  # noqa: S704 - escaped by render_svg
                )
                for chart in dashboards.CHARTS
            ]
            context = {"days": days, "board": board, "charts": charts, "titles": titles}
            return await self._render(request, context)

    return [AdminSection(Analytics, Permission.ANALYTICS_VIEW)]
