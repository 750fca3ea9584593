"""The `analytics` group of the settings tree: bus, ClickHouse, collector limits, the loader."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AnalyticsSettings(BaseModel):
    bus_url: str | None = Field(
        default=None,
        description="redis://… (Redis Streams) or kafka://host:9092; unset: the platform's Redis.",
    )
    store_url: str | None = Field(
        default=None,
        description="http(s)://user:pass@clickhouse:8123 or chdb:///dir; unset: chDB in the "
        "data directory.",
    )
    database: str = Field(
        default="tracking_user_events",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="ClickHouse database of the event tables (created on first start).",
    )
    stream_max_length: int = Field(
        default=1_000_000, ge=1000, description="Messages kept per Redis stream (approximate)."
    )
    max_batch_events: int = Field(
        default=500, ge=1, le=10_000, description="Events one collector request may carry."
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest collector request body, bytes."
    )
    page_view_buffer: int = Field(
        default=10_000, ge=1, description="Page views held in memory while the bus is slow."
    )
    load_batch_size: int = Field(
        default=20_000,
        ge=1,
        le=1_000_000,
        description="Events per ClickHouse insert; a batch closes sooner after load_max_wait. "
        "Each insert is a part ClickHouse merges later: a quarter as many inserts as at 5000 "
        "take about half the CPU per event.",
    )
    load_max_wait: float = Field(
        default=1.0, gt=0, le=300, description="Longest an event waits for its batch, seconds."
    )
    reclaim_idle: float = Field(
        default=30.0, gt=0, description="A delivery unacknowledged this long is taken over, s."
    )
    consumer_group: str = Field(default="clickhouse-loader", pattern=r"^[A-Za-z0-9_.\-]+$")
