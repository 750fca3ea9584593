"""Content API under load: film detail (cache hit and miss), list by genre, search.

Served by `kinoteka serve content` over a synced index of generated films, next to a bare
FastAPI endpoint that returns the same JSON from memory (same server stack, same client).
"""

from __future__ import annotations

import random
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg

from bench.fixtures import FILMS, migrated_database, postgres_server
from bench.loadgen import closed_loop, free_port, open_loop, python, server_process
from kinoteka.catalog.generator import generate_catalog
from kinoteka.infra.cache.embedded import EmbeddedRedis
from kinoteka.infra.db import libpq_url


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 6:
        return word
    at = rng.randrange(1, len(word) - 1)
    return word[:at] + word[at + 1 :]


def run(report: Callable[[str], None]) -> None:
    rng = random.Random(7)
    with (
        postgres_server() as server,
        migrated_database(server) as url,
        tempfile.TemporaryDirectory(prefix="kinoteka-bench-content-") as directory,
    ):
        root = Path(directory)
        generate_catalog(url, FILMS, 42)
        redis = EmbeddedRedis(root / "redis")
        env = {
            "KINOTEKA_DATABASE_URL": url,
            "KINOTEKA_REDIS_URL": redis.start(),
            "KINOTEKA_SEARCH_URL": f"tantivy://{root / 'search'}",
            "KINOTEKA_CONTENT__PUBLIC": "true",
            "KINOTEKA_DATA_DIR": str(root),
            "KINOTEKA_LOG__LEVEL": "WARNING",
        }
        try:
            subprocess.run(
                [python(), "-m", "kinoteka", "sync", "run", "--once"], env=env, check=True,
                capture_output=True,
            )  # fmt: skip
            with psycopg.connect(libpq_url(url)) as connection:
                ids = [r[0] for r in connection.execute(
                    "SELECT id::text FROM content.film_work ORDER BY md5(id::text) LIMIT 3000"
                )]  # fmt: skip
                genres = [r[0] for r in connection.execute("SELECT id::text FROM content.genre")]
                titles = [r[0] for r in connection.execute(
                    "SELECT title FROM content.film_work ORDER BY md5(title) LIMIT 1000"
                )]  # fmt: skip
            queries = [" ".join(_typo(w, rng) for w in title.split()[:3]) for title in titles]
            port = free_port()
            command = [python(), "-m", "kinoteka", "serve", "content", "--port", str(port)]
            with server_process(command, env, port) as base:
                detail = f"/api/v1/films/{ids[0]}"
                body = httpx.get(base + detail).content
                closed_loop(base, lambda n: detail, 300)  # warm-up
                hit = closed_loop(base, lambda n: detail, 4000)
                miss = closed_loop(base, lambda n: f"/api/v1/films/{ids[1 + n]}", len(ids) - 1)
                by_genre = closed_loop(
                    base,
                    lambda n: (
                        f"/api/v1/films?genre={genres[n % len(genres)]}"
                        f"&page_number={n % 7 + 1}&page_size=50"
                    ),
                    2000,
                )
                search = open_loop(
                    base,
                    lambda n: f"/api/v1/films/search?query={queries[n % len(queries)]}",
                    rate=50,
                    seconds=10,
                )
            (root / "body.json").write_bytes(body)
            bare_port = free_port()
            bare_command = [
                python(), "-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port),
                "--log-level", "warning",
            ]  # fmt: skip
            with server_process(
                bare_command, {"KINOTEKA_BENCH_BODY": str(root / "body.json")}, bare_port
            ) as bare_base:
                closed_loop(bare_base, lambda n: detail, 300)
                bare = closed_loop(bare_base, lambda n: detail, 4000)
        finally:
            redis.stop()
    ratio = hit.rps / bare.rps
    report(f"films: {FILMS}")
    report(f"bare endpoint (same JSON from memory): {bare.line()}")
    report(
        f"film detail, cache hit: {hit.line()}; ratio to bare {ratio:.2f}x "
        f"(goal >= 0.67x: {'met' if ratio >= 0.67 else 'NOT met'})"
    )
    report(f"film detail, cache miss: {miss.line()}")
    report(f"list by genre (7 pages x 26 genres): {by_genre.line()}")
    p99 = search.percentile(0.99)
    report(
        f"search at 50 req/s (typo queries): {search.line()} "
        f"(goal p99 <= 50 ms: {'met' if p99 <= 50 else 'NOT met'})"
    )
