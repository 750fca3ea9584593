"""How analytics joins the app: the collector and dashboards, the page-view observer of the
content API (a middleware matching content's routes by path: content imports nothing of
analytics), its draining task, the dashboards' page in the back office (`/admin/analytics`),
and under `kinoteka up` the loader into ClickHouse."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence

import structlog
from fastapi import FastAPI

from kinoteka.analytics import api
from kinoteka.analytics.loader import Loader
from kinoteka.analytics.pageviews import PageViewBuffer, PageViewMiddleware
from kinoteka.analytics.querying import SOCKET_NAME, serving_queries
from kinoteka.analytics.repository import forget_account, refused_rows_sink
from kinoteka.analytics.warehouse import create_tables
from kinoteka.auth import on_account_deleted, verified_claims
from kinoteka.mounting import AdminSection, ContextMount
from kinoteka.services import Services

log = structlog.get_logger(__name__)


def build_loader(services: Services) -> Loader:
    settings = services.settings.analytics
    return Loader(
        services.bus,
        services.analytics_store,
        settings.database,
        group=settings.consumer_group,
        batch_size=settings.load_batch_size,
        max_wait=settings.load_max_wait,
        reclaim_idle=settings.reclaim_idle,
        on_refused=refused_rows_sink(services.db.session),
    )


@contextlib.asynccontextmanager
async def loader_in_background(services: Services) -> AsyncIterator[None]:
    """Run the loader beside the API until shutdown (`kinoteka up`), and, on the embedded
    footprint, answer the read queries of commands run beside it (`querying`)."""
    loader = build_loader(services)
    stop = asyncio.Event()

    async def run() -> None:
        while not stop.is_set():
            try:
                await loader.prepare()
                await loader.run(stop)
            except Exception:
                log.exception("analytics.loader_failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5.0)

    task = asyncio.create_task(run(), name="analytics-loader")
    try:
        if services.settings.analytics.store_url is None:  # chDB: this process holds it
            path = services.settings.data_dir / SOCKET_NAME
            async with serving_queries(services.analytics_store, path):
                yield
        else:
            yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def analytics_admin(services: Services) -> Sequence[AdminSection]:
    # SQLAdmin loads only where the admin is mounted.
    from kinoteka.analytics.admin import dashboard_sections

    return dashboard_sections(services)


def analytics_mount() -> ContextMount:
    # One buffer per app: the middleware offers to it, the lifespan drains it.
    holder: dict[str, PageViewBuffer] = {}

    def install(app: FastAPI, services: Services) -> None:
        api.install(app)
        on_account_deleted(forget_account)  # once per process, however many apps

        async def viewer_of(token: str) -> uuid.UUID | None:
            # Public catalog or not: content's check, or an earlier view, left it remembered.
            claims = await verified_claims(services.auth, token)
            return None if claims is None else claims.subject

        app.add_middleware(
            PageViewMiddleware, buffer=lambda: holder.get("buffer"), viewer_of=viewer_of
        )

    @contextlib.asynccontextmanager
    async def lifespan(services: Services) -> AsyncIterator[None]:
        # The dashboards read the tables whether or not a loader runs in this process
        # (`kinoteka serve analytics`): made sure of here, idempotently. A store that is
        # down now only costs its dashboards until it returns (the loader retries it).
        try:
            await create_tables(services.analytics_store, services.settings.analytics.database)
        except Exception:
            log.exception("analytics.tables_not_prepared")
        buffer = PageViewBuffer(
            lambda: services.bus, capacity=services.settings.analytics.page_view_buffer
        )
        async with buffer.running():
            holder["buffer"] = buffer
            try:
                yield
            finally:
                holder.pop("buffer", None)

    return ContextMount(
        name="analytics",
        install=install,
        lifespan=lifespan,
        background=loader_in_background,
        uses=("bus", "analytics_store", "auth"),
        admin=analytics_admin,
    )
