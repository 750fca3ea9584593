"""Analytics pipeline: bus -> ClickHouse (chDB) throughput, the collector, send-to-query latency.

In one run:
- the loader draining KINOTEKA_BENCH_EVENTS (200,000) events already on Redis Streams into
  chDB in batches of its default size (`load_batch_size`), against a bare clickhouse-connect
  insert of the same rows in batches of the same size (goal >= 0.8x and >= 200,000
  events/s); publishing them is timed too, apart;
- the collector (`kinoteka serve analytics`, batches of 50 events, token checked, published to
  Redis) against a bare FastAPI endpoint taking the same body (goal >= 0.8x);
- event sent -> queryable in ClickHouse with the loader running at its default settings (one
  event at a time, 50 times): p95 (goal <= 2 s).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.fixtures import migrated_database, postgres_server
from bench.loadgen import LoadResult, free_port, python, server_process
from kinoteka.analytics.collector import publish
from kinoteka.analytics.loader import Loader
from kinoteka.analytics.schemas import BusRecord
from kinoteka.analytics.settings import AnalyticsSettings
from kinoteka.analytics.topics import PLAYER_TOPICS
from kinoteka.analytics.warehouse import COLUMNS, create_tables, row
from kinoteka.infra import analytics as store_port
from kinoteka.infra import bus as bus_port
from kinoteka.infra.analytics import AnalyticsStore
from kinoteka.infra.cache.embedded import EmbeddedRedis
from kinoteka.logs import configure_logging
from kinoteka.settings import LogSettings

EVENTS = int(os.environ.get("KINOTEKA_BENCH_EVENTS", "200000"))
BATCH = AnalyticsSettings().load_batch_size  # the loader's default, for both
TOPIC_OF = {kind.value: topic for kind, topic in PLAYER_TOPICS.items()}
AT = dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.UTC)


def _pauses(count: int) -> list[BusRecord]:
    users = [uuid.uuid4() for _ in range(100)]
    films = [uuid.uuid4() for _ in range(100)]
    return [
        BusRecord(
            event_id=uuid.uuid4(),
            type="pause",
            user_id=users[n % 100],
            film_id=films[n % 97],
            position=float(n % 7200),
            client_at=AT,
            server_at=AT,
        )
        for n in range(count)
    ]


async def _pipeline(redis_url: str, store: AnalyticsStore) -> dict[str, float]:
    records = _pauses(EVENTS)
    bus = bus_port.from_url(redis_url, max_length=10 * EVENTS)
    # Baseline: the same rows, straight into a table of the same shape, in the same batches.
    await create_tables(store, "bench_bare")
    rows = [row("clicks_on_video_pauses", r) for r in records]
    columns = COLUMNS["clicks_on_video_pauses"]
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        block = rows[start : start + BATCH]
        await store.insert("bench_bare.clicks_on_video_pauses", block, columns)
    bare = time.perf_counter() - started

    loader = Loader(bus, store, "bench_pipeline", group="bench", batch_size=BATCH, max_wait=0.5)
    await loader.prepare()
    started = time.perf_counter()
    for start in range(0, len(records), BATCH):
        await publish(bus, records[start : start + BATCH], TOPIC_OF)
    published = time.perf_counter() - started
    started = time.perf_counter()
    draining = asyncio.create_task(loader.run_until_idle(0.5))
    # Timed to the last batch's acknowledgement: the loader's last, empty wait for more is no
    # work, and the last batch's insert overlaps it, so subtracting the wait would flatter it.
    while loader.stats.loaded < EVENTS and not draining.done():  # noqa: ASYNC110 (a counter)
        await asyncio.sleep(0.001)
    drained = time.perf_counter() - started
    loaded = await draining
    counted = await store.query("SELECT count() FROM bench_pipeline.clicks_on_video_pauses FINAL")
    assert loaded == EVENTS == counted[0][0], (loaded, counted)
    await bus.close()
    return {"bare": EVENTS / bare, "pipeline": EVENTS / drained, "publish": EVENTS / published}


async def _latency(redis_url: str, store: AnalyticsStore) -> list[float]:
    settings = AnalyticsSettings()
    bus = bus_port.from_url(redis_url)
    loader = Loader(
        bus, store, "bench_latency", group="latency",
        batch_size=settings.load_batch_size, max_wait=settings.load_max_wait,
    )  # fmt: skip
    await loader.prepare()
    stop = asyncio.Event()
    task = asyncio.create_task(loader.run(stop))
    latencies = []
    try:
        for record in _pauses(50):
            started = time.perf_counter()
            await publish(bus, [record], TOPIC_OF)
            while True:  # polling the table, as a dashboard would
                if await store.query(
                    "SELECT 1 FROM bench_latency.clicks_on_video_pauses WHERE event_id = {e:UUID}",
                    {"e": record.event_id},
                ):
                    break
                await asyncio.sleep(0.01)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await bus.close()
    return latencies


async def _post_loop(base: str, body: bytes, headers: dict[str, str], total: int) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            for _ in counter:
                started = time.perf_counter()
                answer = await client.post("/api/v1/events", content=body, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += answer.status_code != 202

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(16)))
        return LoadResult(total, time.perf_counter() - started, latencies, errors)


def _token(database_url: str, redis_url: str, secret: str) -> dict[str, str]:
    from kinoteka.auth.deps import get_auth_kit
    from kinoteka.auth.tokens import sign_access_token
    from kinoteka.clients import build_services
    from kinoteka.infra.footprint import StoreUrls
    from kinoteka.settings import Settings

    async def sign() -> dict[str, str]:
        services = build_services(
            Settings(secret_key=secret), StoreUrls(database_url, redis_url, "", "")
        )
        try:
            kit = get_auth_kit(services)
            token, _ = sign_access_token(
                await kit.keys.signer(), subject=uuid.uuid4(), session_id=uuid.uuid4(),
                roles=[], permissions=[], issuer=kit.settings.issuer,
                audience=kit.settings.audience, ttl_seconds=3600,
            )  # fmt: skip
        finally:
            await services.close()
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    return asyncio.run(sign())


def _collector(database_url: str, redis_url: str, root: Path) -> tuple[LoadResult, LoadResult]:
    import orjson

    secret = "bench-secret-" + uuid.uuid4().hex
    headers = _token(database_url, redis_url, secret)
    film = str(uuid.uuid4())
    events: list[dict[str, Any]] = [
        {"type": "progress", "film_id": film, "position": float(n), "at": AT.isoformat(),
         "duration": 6000.0, "event_id": str(uuid.uuid4())}
        for n in range(50)
    ]  # fmt: skip
    body = orjson.dumps({"schema_version": 1, "events": events})
    env = {
        "KINOTEKA_DATABASE_URL": database_url,
        "KINOTEKA_REDIS_URL": redis_url,
        "KINOTEKA_SECRET_KEY": secret,
        "KINOTEKA_DATA_DIR": str(root),
        "KINOTEKA_LOG__LEVEL": "WARNING",
    }
    port = free_port()
    command = [python(), "-m", "kinoteka", "serve", "analytics", "--port", str(port)]
    with server_process(command, env, port) as base:
        asyncio.run(_post_loop(base, body, headers, 200))  # warm-up
        collector = asyncio.run(_post_loop(base, body, headers, 2000))
    bare_port = free_port()
    bare_command = [
        python(), "-m", "uvicorn", "bench.bare_collector:app", "--port", str(bare_port),
        "--log-level", "warning",
    ]  # fmt: skip
    with server_process(bare_command, {}, bare_port) as bare_base:
        asyncio.run(_post_loop(bare_base, body, headers, 200))
        bare = asyncio.run(_post_loop(bare_base, body, headers, 2000))
    return collector, bare


def _goal(met: bool) -> str:
    return "met" if met else "NOT met"


def run(report: Callable[[str], None]) -> None:
    # Both loader runs log at WARNING, not in structlog's unconfigured debug lines.
    configure_logging(LogSettings(level="WARNING"))
    with (
        postgres_server() as server,
        migrated_database(server) as database_url,
        tempfile.TemporaryDirectory(prefix="kinoteka-bench-analytics-") as directory,
    ):
        root = Path(directory)
        redis = EmbeddedRedis(root / "redis")
        redis_url = redis.start()
        try:
            store = store_port.from_url(f"chdb://{root / 'chdb'}")
            rates = asyncio.run(_pipeline(redis_url, store))
            latencies = asyncio.run(_latency(redis_url, store))
            collector, bare = _collector(database_url, redis_url, root / "serve")
        finally:
            redis.stop()
    ratio = rates["pipeline"] / rates["bare"]
    report(f"events: {EVENTS:,}, insert batches of {BATCH:,} (the loader's default)")
    report(f"bare clickhouse-connect insert into chDB: {rates['bare']:,.0f} events/s")
    report(
        f"loader, Redis Streams -> chDB: {rates['pipeline']:,.0f} events/s; ratio to bare "
        f"{ratio:.2f}x (goal >= 0.8x: {_goal(ratio >= 0.8)}; >= 200,000/s: "
        f"{_goal(rates['pipeline'] >= 200_000)})"
    )
    report(f"publishing them to Redis Streams: {rates['publish']:,.0f} events/s")
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    report(
        f"sent -> queryable (loader defaults): p50 {ordered[len(ordered) // 2]:.2f} s, "
        f"p95 {p95:.2f} s (goal <= 2 s: {_goal(p95 <= 2)})"
    )
    report(f"bare endpoint, same 50-event body: {bare.line()}")
    collector_ratio = collector.rps / bare.rps
    report(
        f"collector POST /api/v1/events (50 events): {collector.line()}; ratio to bare "
        f"{collector_ratio:.2f}x (goal >= 0.8x: {_goal(collector_ratio >= 0.8)})"
    )
