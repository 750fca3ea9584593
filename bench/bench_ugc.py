"""UGC API under load: mixed writes (bookmarks, ratings, reviews, progress) at 200 req/s, and a
film's rating summary next to a bare FastAPI endpoint answering the same JSON from memory.

Served by `kinoteka serve ugc` over generated films, as viewers with tokens signed by the
deployment's key. Goals: mixed writes p99 <= 20 ms; summary reads >= 0.6x the bare endpoint.

The writes are an open loop: request n is due at `n / rate` whatever the answers' pace, and
its latency counts from that moment, so a request queued behind a slow one (in the server or
in this client) counts its wait (no coordinated omission); the sender's own lateness is
reported beside it. The summary is compared twice: closed-loop throughput (this Python client
shares the cores, so it narrows the gap), and the servers' CPU time per request (the serving
process plus, for ours, the PostgreSQL it reads), the capacity each would have alone.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
import psycopg

from bench.fixtures import migrated_database, postgres_server
from bench.loadgen import LoadResult, closed_loop, cpu_seconds, free_port, python, served_process
from kinoteka.catalog.generator import generate_catalog
from kinoteka.infra.cache.embedded import EmbeddedRedis
from kinoteka.infra.db import libpq_url

FILMS = int(os.environ.get("KINOTEKA_BENCH_UGC_FILMS", "2000"))
VIEWERS = 200
RATE = 200.0
SECONDS = float(os.environ.get("KINOTEKA_BENCH_UGC_SECONDS", "15"))

Call = tuple[str, str, dict[str, Any] | None]


async def _tokens(env: dict[str, str], count: int) -> list[str]:
    """Viewers' access tokens, signed with the key the deployment keeps in its database."""
    from kinoteka.auth.tokens import sign_access_token
    from kinoteka.clients import build_services
    from kinoteka.infra.footprint import StoreUrls
    from kinoteka.settings import Settings

    urls = StoreUrls(env["KINOTEKA_DATABASE_URL"], env["KINOTEKA_REDIS_URL"], "", "")
    services = build_services(Settings(), urls)
    try:
        kit = services.auth
        signer = await kit.keys.signer()
        return [
            sign_access_token(
                signer, subject=uuid.uuid4(), session_id=uuid.uuid4(), roles=["public_user"],
                permissions=["catalog.read", "ugc.write"], issuer=kit.settings.issuer,
                audience=kit.settings.audience, ttl_seconds=3600,
            )[0]
            for _ in range(count)
        ]  # fmt: skip
    finally:
        await services.close()


def _mixed(films: list[str], rng: random.Random) -> Callable[[int], Call]:
    def call(number: int) -> Call:
        film = films[rng.randrange(len(films))]
        roll = number % 10
        if roll < 3:
            return "PUT", f"/api/v1/ugc/films/{film}/progress", {
                "position_seconds": rng.uniform(0, 5000), "duration_seconds": 6000.0,
                "client_time": datetime.now(UTC).isoformat(),
            }  # fmt: skip
        if roll < 6:
            return "PUT", f"/api/v1/ugc/films/{film}/my-rating", {"score": rng.randrange(11)}
        if roll < 8:
            return "PUT", f"/api/v1/ugc/bookmarks/{film}", None
        if roll < 9:
            text = "A review written under load. " * rng.randrange(1, 20)
            return "POST", f"/api/v1/ugc/films/{film}/reviews", {"text": text, "score": 7}
        return "GET", f"/api/v1/ugc/films/{film}/reviews?sort=most_liked", None

    return call


async def _open_loop_calls(
    base: str, tokens: list[str], calls: Callable[[int], Call], rate: float, seconds: float
) -> tuple[LoadResult, list[float]]:
    """The calls at a fixed rate; latencies from each call's due time, and how late this
    sender started each call (its own share of the latency)."""
    latencies: list[float] = []
    lateness: list[float] = []
    errors = 0
    # aiohttp, not httpx: at 200 req/s on a shared machine httpx's own CPU (its pool walks
    # every connection per request) made this sender seconds late, counted against the server.
    # Requests wait for a connection (an open loop measures the server, not the client pool).
    connector = aiohttp.TCPConnector(limit=200)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:

        async def one(number: int, due: float) -> None:
            nonlocal errors
            method, path, body = calls(number)
            headers = {"Authorization": f"Bearer {tokens[number % len(tokens)]}"}
            lateness.append((time.perf_counter() - due) * 1000)
            try:
                async with client.request(method, path, json=body, headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
                return
            finally:
                latencies.append((time.perf_counter() - due) * 1000)
            # A second review of the same film by the same viewer is a 409, as it should be.
            if status >= 400 and status != 409:
                errors += 1

        tasks = []
        begin = time.perf_counter()
        count = int(rate * seconds)
        for number in range(count):
            due = begin + number / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(number, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    return LoadResult(count, elapsed, latencies, errors), lateness


def _postgres_cpu(url: str) -> float:
    """CPU seconds the PostgreSQL server behind `url` has used: its postmaster, its live
    processes, and the backends that have exited (closed pool overflow: the postmaster reaped
    them, so their time is its children's)."""
    with psycopg.connect(libpq_url(url)) as connection:
        row = connection.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        postmaster = psutil.Process(row[0]).parent()  # while this backend lives
        assert postmaster is not None
        live = postmaster.children()
    times = postmaster.cpu_times()
    reaped = times.user + times.system + times.children_user + times.children_system
    return float(reaped) + _tree_cpu(live)


def _tree_cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            total += cpu_seconds(process.pid)
        except psutil.NoSuchProcess:  # exited meanwhile: its time is its parent's now
            continue
    return total


def _cpu_per_request(
    pid: int, url: str | None, base: str, path: str, total: int
) -> tuple[LoadResult, float, float]:
    """Closed-loop reads of `path`, and the CPU ms per request of the server and of its
    database (0 unless `url` names one)."""
    server = psutil.Process(pid)
    before = _tree_cpu([server]), (_postgres_cpu(url) if url else 0.0)
    result = closed_loop(base, lambda n: path, total)
    after = _tree_cpu([server]), (_postgres_cpu(url) if url else 0.0)
    return result, (after[0] - before[0]) * 1000 / total, (after[1] - before[1]) * 1000 / total


def _lateness_line(lateness: list[float]) -> str:
    ordered = sorted(lateness) or [float("nan")]
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"sender lateness p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms"


def run(report: Callable[[str], None]) -> None:
    rng = random.Random(18)
    with (
        postgres_server() as server,
        migrated_database(server) as url,
        tempfile.TemporaryDirectory(prefix="kinoteka-bench-ugc-") as directory,
    ):
        root = Path(directory)
        generate_catalog(url, FILMS, 42)
        redis = EmbeddedRedis(root / "redis")
        env = {
            "KINOTEKA_DATABASE_URL": url,
            "KINOTEKA_REDIS_URL": redis.start(),
            "KINOTEKA_DATA_DIR": str(root),
            "KINOTEKA_LOG__LEVEL": "WARNING",
            "KINOTEKA_UGC__WRITE_RATE": "100000/minute",
        }
        try:
            with psycopg.connect(libpq_url(url)) as connection:
                films = [r[0] for r in connection.execute(
                    "SELECT id::text FROM content.film_work ORDER BY md5(id::text)"
                )]  # fmt: skip
            tokens = asyncio.run(_tokens(env, VIEWERS))
            port = free_port()
            command = [python(), "-m", "kinoteka", "serve", "ugc", "--port", str(port)]
            with served_process(command, env, port) as (base, pid):
                # The summary first, on a film some viewers rated: measured after the writes,
                # PostgreSQL's work left by them (autovacuum, closing backends) would count.
                summary = f"/api/v1/ugc/films/{films[0]}/rating"
                for number, token in enumerate(tokens[:20]):
                    httpx.put(
                        f"{base}/api/v1/ugc/films/{films[0]}/my-rating",
                        json={"score": number % 11},
                        headers={"Authorization": f"Bearer {token}"},
                    ).raise_for_status()
                body = httpx.get(base + summary).content
                closed_loop(base, lambda n: summary, 300)  # warm-up
                ours, ours_server, ours_database = _cpu_per_request(pid, url, base, summary, 3000)
                calls = _mixed(films[:500], rng)
                asyncio.run(_open_loop_calls(base, tokens, calls, rate=100, seconds=2))  # warm-up
                serving = psutil.Process(pid)
                server_before = _tree_cpu([serving])
                database_before = _postgres_cpu(url)
                mixed, lateness = asyncio.run(_open_loop_calls(base, tokens, calls, RATE, SECONDS))
                server_cpu = (_tree_cpu([serving]) - server_before) * 1000 / mixed.requests
                database_cpu = (_postgres_cpu(url) - database_before) * 1000 / mixed.requests
            (root / "body.json").write_bytes(body)
            bare_port = free_port()
            bare_command = [
                python(), "-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port),
                "--log-level", "warning",
            ]  # fmt: skip
            bare_path = f"/api/v1/films/{films[0]}"
            with served_process(
                bare_command, {"KINOTEKA_BENCH_BODY": str(root / "body.json")}, bare_port
            ) as (bare_base, bare_pid):
                closed_loop(bare_base, lambda n: bare_path, 300)
                bare, bare_cpu, _ = _cpu_per_request(bare_pid, None, bare_base, bare_path, 3000)
        finally:
            redis.stop()
    p99 = mixed.percentile(0.99)
    ratio = ours.rps / bare.rps
    ours_cpu = ours_server + ours_database
    capacity = bare_cpu / ours_cpu if ours_cpu > 0 else float("inf")
    report(f"films: {FILMS}, viewers: {VIEWERS}")
    report(
        f"mixed writes at {RATE:.0f} req/s (30% progress, 30% ratings, 20% bookmarks, "
        f"10% reviews, 10% review lists), latency from each request's due time: {mixed.line()} "
        f"(goal p99 <= 20 ms: {'met' if p99 <= 20 else 'NOT met'}); {_lateness_line(lateness)}; "
        f"CPU/req {server_cpu:.2f} ms server + {database_cpu:.2f} ms PostgreSQL"
    )
    report(f"bare endpoint (same JSON from memory): {bare.line()}; {bare_cpu:.2f} ms CPU/req")
    report(
        f"rating summary: {ours.line()}; CPU/req {ours_server:.2f} ms server + "
        f"{ours_database:.2f} ms PostgreSQL"
    )
    report(
        f"rating summary to bare: capacity (CPU per request) {capacity:.2f}x, closed-loop "
        f"throughput {ratio:.2f}x (goal >= 0.6x: {'met' if capacity >= 0.6 else 'NOT met'})"
    )
