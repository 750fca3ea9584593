"""The Grafana provisioning under deploy/grafana loads, and every panel's SQL runs on our tables."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kinoteka.analytics.settings import AnalyticsSettings
from kinoteka.analytics.warehouse import create_tables
from kinoteka.infra.analytics import AnalyticsStore

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
MACRO = re.compile(r"\$__timeFilter\((\w+)\)")


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
            sql = MACRO.sub(r"\1 >= now() - INTERVAL 30 DAY", target["rawSql"])
            sql = sql.replace("tracking_user_events.", f"{tables}.")
            await chdb_store.query(sql)  # raises on any mistake
