"""The viewer's pages under load: home, film and search, next to a bare Jinja2 render.

`kinoteka serve web` over a synced index of generated films, against `bench/bare_web.py`:
the same templates rendered from data held in memory, on the same server stack (uvicorn) with
the same gzip (level 6). Both servers run side by side and take turns, a round each, so a
drift of the shared machine's load falls on both. Every film and every query is asked once:
the film and search figures are pages rendered afresh, not the anonymous page cache. Also
the weight of each page with its CSS, scripts and images, compressed.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.fixtures import FILMS, migrated_database, postgres_server
from bench.loadgen import LoadResult, closed_loop, free_port, open_loop, python, server_process
from kinoteka.catalog.generator import generate_catalog
from kinoteka.content import ContentQueries, Page
from kinoteka.infra.cache.embedded import EmbeddedRedis
from kinoteka.infra.db import libpq_url
from kinoteka.search.service import open_index
from kinoteka.search.settings import SearchSettings

WEIGHT_BUDGET = 300 * 1024
ROUNDS = 6
ASSET = re.compile(r'(?:src|href)="(/static/[^"]+|/storage/[^"]+|/api/v1/[^"]+\.(?:jpg|png|webp))"')


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 6:
        return word
    at = rng.randrange(1, len(word) - 1)
    return word[:at] + word[at + 1 :]


async def _page_data(search_url: str, film_id: str, query: str) -> dict[str, Any]:
    """What the bare render shows, read once through the content service."""
    settings = SearchSettings()
    index = open_index(search_url, settings)
    try:
        queries = ContentQueries(index, settings.indexes)
        genres = await queries.list_genres()
        new = await queries.film_cards(sort="-added", genre=None, page=Page(size=12))
        top = await queries.film_cards(sort="-imdb_rating", genre=None, page=Page(size=12))
        rows = [
            {"key": "new", "title": None, "films": new.model_dump(), "more": "/films?sort=-added"},
            {"key": "top", "title": None, "films": top.model_dump(), "more": "/films"},
        ]
        for genre in genres[:4]:
            page = await queries.film_cards(sort="-imdb_rating", genre=genre.uuid, page=Page(12))
            rows.append({"key": "genre", "title": genre.name, "films": page.model_dump(),
                         "more": f"/genres/{genre.uuid}"})  # fmt: skip
        film = await queries.get_film_view(film_id)
        found = await queries.search_film_cards(text=query, page=Page(size=24))
    finally:
        await index.close()
    return {
        "home": rows,
        "genres": [genre.model_dump() for genre in genres],
        "film": film.model_dump(mode="json"),
        "search": found.model_dump(),
    }


def _weight(base: str, path: str) -> int:
    """Bytes on the wire (gzip where served so) of the page and every asset it names."""
    headers = {"Accept-Encoding": "gzip"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        page = client.get(path)
        assets = [client.get(url) for url in sorted(set(ASSET.findall(page.text)))]
        return sum(response.num_bytes_downloaded for response in [page, *assets])


def _in_turns(
    base: str, bare_base: str, pages: dict[str, tuple[Callable[[int], str], int]]
) -> tuple[dict[str, LoadResult], dict[str, LoadResult]]:
    """Each page's requests in `ROUNDS` rounds, the two servers taking turns (the one going
    first alternating), so a change of the machine's load falls on both alike. Both servers
    are asked the same addresses; within a page no film or query is asked twice."""
    ours: dict[str, LoadResult] = {}
    bare: dict[str, LoadResult] = {}
    for name, (paths, total) in pages.items():
        size = total // ROUNDS
        rounds: dict[str, list[LoadResult]] = {base: [], bare_base: []}
        for number in range(ROUNDS):
            offset = number * size
            order = (base, bare_base) if number % 2 == 0 else (bare_base, base)
            for server in order:
                rounds[server].append(closed_loop(server, _shifted(paths, offset), size))
        ours[name], bare[name] = (_joined(rounds[base]), _joined(rounds[bare_base]))
    return ours, bare


def _shifted(paths: Callable[[int], str], offset: int) -> Callable[[int], str]:
    return lambda n: paths(n + offset)


def _joined(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        latencies_ms=[ms for r in results for ms in r.latencies_ms],
        errors=sum(r.errors for r in results),
    )


def run(report: Callable[[str], None]) -> None:
    rng = random.Random(11)
    with (
        postgres_server() as server,
        migrated_database(server) as url,
        tempfile.TemporaryDirectory(prefix="kinoteka-bench-web-") as directory,
    ):
        root = Path(directory)
        generate_catalog(url, FILMS, 42)
        redis = EmbeddedRedis(root / "redis")
        search_url = f"tantivy://{root / 'search'}"
        env = {
            "KINOTEKA_DATABASE_URL": url,
            "KINOTEKA_REDIS_URL": redis.start(),
            "KINOTEKA_SEARCH_URL": search_url,
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
                    "SELECT id::text FROM content.film_work ORDER BY md5(id::text) LIMIT 2000"
                )]  # fmt: skip
                titles = [r[0] for r in connection.execute(
                    "SELECT title FROM (SELECT DISTINCT title FROM content.film_work) AS t"
                    " ORDER BY md5(title) LIMIT 2200"
                )]  # fmt: skip
            queries = [" ".join(_typo(w, rng) for w in t.split()[:3]) for t in titles]
            data = asyncio.run(_page_data(search_url, ids[0], queries[0]))
            (root / "pages.json").write_text(json.dumps(data))

            def home(n: int) -> str:
                return "/"

            def film(n: int) -> str:
                return f"/films/{ids[n % len(ids)]}"

            def search(n: int) -> str:
                return f"/search?q={queries[n % len(queries)]}"

            port = free_port()
            command = [python(), "-m", "kinoteka", "serve", "web", "--port", str(port)]
            bare_port = free_port()
            bare_command = [
                python(), "-m", "uvicorn", "bench.bare_web:app", "--port", str(bare_port),
                "--log-level", "warning",
            ]  # fmt: skip
            bare_env = {"KINOTEKA_BENCH_PAGES": str(root / "pages.json")}
            with (
                server_process(command, env, port) as base,
                server_process(bare_command, bare_env, bare_port) as bare_base,
            ):
                for server in (base, bare_base):
                    closed_loop(server, lambda n: "/", 200)  # warm-up
                results, bare = _in_turns(
                    base, bare_base, {"home": (home, 1500), "film": (film, 1500),
                                      "search": (search, 1000)},
                )  # fmt: skip
                latency = {
                    "home": open_loop(base, home, rate=10, seconds=8),
                    "film": open_loop(base, lambda n: film(n + 1500), rate=10, seconds=8),
                    "search": open_loop(base, lambda n: search(n + 1000), rate=10, seconds=8),
                }
                weights = {name: _weight(base, path) for name, path in
                           (("home", "/"), ("film", film(0)), ("search", search(0)))}  # fmt: skip
        finally:
            redis.stop()
    report(f"films: {FILMS}; servers in turns, {ROUNDS} rounds a page; every film and query "
           "asked once (the anonymous page cache serves only the home page's repeats)")  # fmt: skip
    for name in ("home", "film", "search"):
        ours, baseline = results[name], bare[name]
        ratio = ours.rps / baseline.rps
        p95 = latency[name].percentile(0.95)
        report(
            f"{name}: {ours.rps:,.0f} req/s (16 at a time, errors {ours.errors}), "
            f"bare render {baseline.rps:,.0f} "
            f"req/s: ratio {ratio:.2f}x (goal >= 0.6x: {'met' if ratio >= 0.6 else 'NOT met'}); "
            f"at 10 req/s p95 {p95:.1f} ms (goal <= 50 ms: {'met' if p95 <= 50 else 'NOT met'})"
        )
    for name, size in weights.items():
        verdict = "met" if size <= WEIGHT_BUDGET else "NOT met"
        report(f"{name} page weight with assets, compressed: {size / 1024:.0f} KB "
               f"(goal <= 300 KB: {verdict})")  # fmt: skip
