"""The analytics page inside the back office (`/admin/analytics`): only for `analytics.view`,
in the admin's layout, with the charts and key numbers of a loaded fixture over the chosen
period; a bad period and a store that cannot answer are clean pages, never a traceback."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest

from kinoteka.analytics.settings import AnalyticsSettings
from kinoteka.auth import service as auth_service
from kinoteka.auth.deps import get_auth_kit
from kinoteka.infra.analytics import AnalyticsStore
from kinoteka.infra.analytics import from_url as analytics_store_from_url
from kinoteka.infra.db import libpq_url
from kinoteka.services import Services
from tests.analytics.factories import player
from tests.analytics.test_dashboards import NOW, U3, A, B, load_known_fixture
from tests.catalog.app_fixtures import PASSWORD, catalog_services, catalog_settings, running_client

VIEWER = "viewer@example.com"
CATALOGUER = "cataloguer@example.com"
PAGE = "/admin/analytics"
HOSTILE = "<img src=x onerror=1>"
FILM_A_TITLE = "Dawn & <Dusk> over the Northern Frontier"


@pytest.fixture
async def admin(
    fresh_database: str,
    flushed_redis: str,
    chdb_store: AnalyticsStore,
    chdb_dir: Path,
    database_name: str,
    tmp_path: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    # A role that enters the admin but may not read the analytics.
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        connection.execute(
            "INSERT INTO auth.role (id, name, description, permissions) VALUES "
            "(gen_random_uuid(), 'cataloguer', 'Catalog only', "
            "ARRAY['admin.access', 'catalog.write'])"
        )
        # Film A is in the catalog (the page names it); B and C are known only by their ids.
        connection.execute(
            "INSERT INTO content.film_work (id, title, type) VALUES (%s, %s, 'movie')",
            (A, FILM_A_TITLE),
        )
    analytics = AnalyticsSettings(database=database_name, store_url=f"chdb://{chdb_dir}")
    services = catalog_services(
        catalog_settings(tmp_path, analytics=analytics), fresh_database, flushed_redis
    )
    services.analytics_store = chdb_store  # the session's one chDB
    kit = get_auth_kit(services)
    async with services.db.session() as session:
        for email, roles in ((VIEWER, ["admin"]), (CATALOGUER, ["cataloguer"])):
            await auth_service.create_user(session, kit, email, PASSWORD, roles=roles)
    # Beyond the dashboards' fixture: U3 started film B 20 days ago (in 30 days, not in 7),
    # and a quality name a hostile client chose.
    extra = [
        player("play", film_id=B, user_id=U3, client_at=NOW - dt.timedelta(days=20)),
        player(
            "quality_change",
            from_quality="480p",
            to_quality=HOSTILE,
            client_at=NOW - dt.timedelta(days=1),
        ),
    ]
    await load_known_fixture(services, extra)
    async with running_client(services, ["admin"]) as client:
        await client.get("/admin/login")  # the CSRF cookie, as a browser gets it first
        yield client, services


async def _sign_in(client: httpx.AsyncClient, email: str) -> None:
    answer = await client.post("/admin/login", data={"username": email, "password": PASSWORD})
    assert answer.status_code == 302


def _number(page: str, name: str) -> str:
    start = page.index(f'id="{name}">') + len(f'id="{name}">')
    return page[start : page.index("<", start)]


async def test_only_analytics_viewers_see_the_page(
    admin: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = admin
    assert (await client.get(PAGE)).headers["location"].endswith("/admin/login")
    await _sign_in(client, CATALOGUER)
    assert (await client.get(PAGE)).status_code == 403
    assert (await client.get(f"{PAGE}?days=7")).status_code == 403
    menu = (await client.get("/admin/")).text
    assert "Analytics" not in menu
    assert PAGE not in menu
    await client.get("/admin/logout")

    await _sign_in(client, VIEWER)
    assert 'href="http://kinoteka.test/admin/analytics"' in (await client.get("/admin/")).text
    page = await client.get(PAGE)
    assert page.status_code == 200
    assert 'id="navbar-menu"' in page.text  # inside the admin's layout
    assert "fa-chart-column" in page.text


async def test_the_page_shows_the_fixture_and_its_period(
    admin: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = admin
    await _sign_in(client, VIEWER)
    month = (await client.get(PAGE)).text  # 30 days by default
    # Six (viewer, film) pairs started, three finished; film A leads with 3 viewers, 4 plays.
    assert (_number(month, "started"), _number(month, "finished")) == ("6", "3")
    assert _number(month, "completion-rate") == "50.0%"
    first = month.index('<tr data-film="', month.index('id="top-films"'))
    assert month[first:].startswith(f'<tr data-film="{A}"><td><a href="')
    assert f"/admin/film-work/details/{A}" in month
    # The catalog's title in the table and (cut short) under the chart's bar; escaped both.
    assert "Dawn &amp; &lt;Dusk&gt; over the Northern Frontier</a>" in month
    assert ">Dawn &amp; &lt;Dusk&gt;…</text>" in month
    assert f">{B}</a>" in month  # a film the catalog does not hold keeps its id
    assert "<td>3</td><td>4</td>" in month[first:]
    assert month.count("<svg ") == 6
    for heading in ("Playbacks started per day", "Where viewers pause", "Quality switches"):
        assert heading in month
    assert HOSTILE not in month  # the client's text is escaped inside the chart
    assert "&lt;img src=x onerror=1&gt;" in month
    assert '<option value="30" selected>' in month

    week = (await client.get(f"{PAGE}?days=7")).text
    assert (_number(week, "started"), _number(week, "finished")) == ("5", "3")
    assert _number(week, "completion-rate") == "60.0%"
    assert '<option value="7" selected>' in week
    assert 'data-days="7"' in week


@pytest.mark.parametrize("days", ["5", "abc", "-7", "30.0", "9" * 40])
async def test_a_bad_period_is_refused_with_its_reason(
    admin: tuple[httpx.AsyncClient, Services], days: str
) -> None:
    client, _ = admin
    await _sign_in(client, VIEWER)
    answer = await client.get(PAGE, params={"days": days})
    assert answer.status_code == 400
    assert "days:" in answer.text
    assert "is not one of 7, 30, 90" in answer.text
    assert 'id="started"' not in answer.text


async def test_an_unreachable_store_is_a_clear_503_page(
    admin: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = admin
    await _sign_in(client, VIEWER)
    # Nothing listens on port 1: the store cannot be reached.
    services.analytics_store = analytics_store_from_url("http://127.0.0.1:1")
    answer = await client.get(PAGE, params={"days": "7"})
    assert answer.status_code == 503
    assert answer.headers["retry-after"].isdigit()
    assert "The analytics store could not answer" in answer.text
    assert 'id="navbar-menu"' in answer.text
    assert "Traceback" not in answer.text
