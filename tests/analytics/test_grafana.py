"""The Grafana provisioning under deploy/grafana loads, and every panel's SQL runs on our tables."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kinoteka.analytics.dashboards import load_dashboard
from kinoteka.analytics.settings import AnalyticsSettings
from kinoteka.analytics.warehouse import create_tables
from kinoteka.infra.analytics import AnalyticsStore
from kinoteka.services import Services
from tests.analytics.test_dashboards import load_known_fixture

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
MACRO = re.compile(r"\$__timeFilter\(([\w.]+)\)")


def datasources() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((GRAFANA / "provisioning/datasources/clickhouse.yaml").read_text())
    assert loaded["apiVersion"] == 1
    found: list[dict[str, Any]] = loaded["datasources"]
    return found


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))]


def test_the_datasource_is_clickhouse_on_our_database() -> None:
    (source,) = datasources()
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"]["defaultDatabase"] == AnalyticsSettings().database
    assert source["jsonData"]["protocol"] in {"http", "native"}
    assert source["secureJsonData"]["password"].startswith("${")  # never a literal secret
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/kinoteka.yaml").read_text())
    assert provider["providers"][0]["type"] == "file"


def test_every_panel_uses_the_provisioned_datasource() -> None:
    uids = {source["uid"] for source in datasources()}
    (board,) = dashboards()
    assert board["uid"]
    assert board["panels"]
    titles = " / ".join(panel["title"].lower() for panel in board["panels"])
    for needed in ("per day", "top films", "completion", "pause", "quality", "hour of day"):
        assert needed in titles
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] in uids
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in uids
            assert target["rawSql"].strip()


@pytest.fixture
async def tables(chdb_store: AnalyticsStore, database_name: str) -> str:
    await create_tables(chdb_store, database_name)
    return database_name


async def test_every_panels_sql_runs_on_the_tables(chdb_store: AnalyticsStore, tables: str) -> None:
    (board,) = dashboards()
    for panel in board["panels"]:
        for target in panel["targets"]:
            await chdb_store.query(panel_sql(target["rawSql"], tables))  # raises on a mistake


def panel_sql(raw: str, database: str) -> str:
    """A panel's SQL over the last 30 days of `database`, as Grafana would send it."""
    sql = MACRO.sub(r"\1 >= now() - INTERVAL 30 DAY", raw)
    return sql.replace("tracking_user_events.", f"{database}.")


async def test_the_panels_count_as_the_apps_dashboards(services: Services) -> None:
    """Over the dashboards' known fixture (resumes, starting renditions, an end pause) the
    panels give the figures the app's own dashboards give."""
    await load_known_fixture(services)
    store, database = services.analytics_store, services.settings.analytics.database
    board = await load_dashboard(store, database, days=30)
    (dashboard,) = dashboards()
    panels = {panel["title"]: panel["targets"][0]["rawSql"] for panel in dashboard["panels"]}

    async def rows(title: str) -> list[tuple[Any, ...]]:
        return await store.query(panel_sql(panels[title], database))

    per_day = [(day.isoformat(), n) for day, n in await rows("Playbacks started per day")]
    assert per_day == [(bar.label, bar.value) for bar in board.views_per_day]
    top = await rows("Top films by viewers")
    assert top == [(f.film_id, f.viewers, f.plays) for f in board.top_films]
    [(completion,)] = await rows("Completion rate")
    assert round(completion, 4) == board.completion_rate
    pauses = await rows("Where viewers pause (5-minute buckets)")
    assert [n for _, n in pauses] == [bar.value for bar in board.pause_positions]
    assert await rows("Quality switches (to)") == [
        (bar.label, bar.value) for bar in board.quality_switches
    ]
    hours = await rows("Playbacks by hour of day (UTC)")
    assert hours == [(int(b.label), b.value) for b in board.hours_of_day if b.value]
