"""The change queue and its safety net: after a bulk write the safety passes queue nothing the
triggers already delivered, and still catch what they missed; status shows a draining backlog."""

from __future__ import annotations

import psycopg

from kinoteka.infra.db import libpq_url
from tests.search.conftest import SyncRig, execute

FILMS = 2000


def bulk_insert_films(url: str, films: int) -> None:
    """`films` films, each with a new person credited and the existing genres linked, in a few
    statements (as `kinoteka catalog generate` writes)."""
    execute(
        url,
        "INSERT INTO content.film_work (id, title, type)"
        " SELECT gen_random_uuid(), 'Bulk ' || n, 'movie' FROM generate_series(1, %s) n",
        (films,),
    )
    execute(
        url,
        "INSERT INTO content.person (id, full_name)"
        " SELECT gen_random_uuid(), 'Actor ' || n FROM generate_series(1, %s) n",
        (films,),
    )
    execute(
        url,
        "INSERT INTO content.person_film_work (id, film_work_id, person_id, role)"
        " SELECT gen_random_uuid(), f.id, p.id, 'actor'"
        " FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM content.film_work"
        "       WHERE title LIKE 'Bulk %%') f"
        " JOIN (SELECT id, row_number() OVER (ORDER BY id) n FROM content.person"
        "       WHERE full_name LIKE 'Actor %%') p USING (n)",
    )
    execute(
        url,
        "INSERT INTO content.genre_film_work (id, film_work_id, genre_id)"
        " SELECT gen_random_uuid(), f.id, g.id FROM content.film_work f CROSS JOIN content.genre g"
        " WHERE f.title LIKE 'Bulk %%'",
    )
    # a genre renamed after the bulk write: every film of it is fanned out again
    execute(url, "UPDATE content.genre SET description = 'Ships' WHERE name = 'Sci-Fi'")


async def test_safety_passes_after_a_bulk_write_queue_only_what_the_triggers_missed(
    rig: SyncRig,
) -> None:
    await rig.sync.run_once()
    bulk_insert_films(rig.database_url, FILMS)
    report = await rig.sync.run_once(safety=False)  # the follower catches up from the queue
    assert report.upserted >= FILMS * 2
    assert await rig.index.count("movies") == 3 + FILMS

    # Every row above was modified within the overlap: the passes re-read all of them.
    for _ in range(3):
        assert await rig.sync.safety_pass() == 0
    assert (await rig.sync.drain()).upserted == 0

    with psycopg.connect(libpq_url(rig.database_url)) as connection:
        connection.execute("SET session_replication_role = replica")  # triggers off
        connection.execute(
            "UPDATE content.film_work SET title = 'Alien (1979)', modified = now() WHERE id = %s",
            (rig.catalog.films["Alien"],),
        )
    assert await rig.sync.safety_pass() == 1  # the one change the queue never carried
    await rig.sync.drain()
    alien = await rig.index.get("movies", rig.catalog.films["Alien"])
    assert alien is not None
    assert alien["title"] == "Alien (1979)"
    assert await rig.sync.safety_pass() == 0  # and, once applied, not again
    assert (await rig.sync.verify()).ok


async def test_status_shows_a_draining_backlog_with_its_rate_and_eta(rig: SyncRig) -> None:
    await rig.sync.run_once()
    bulk_insert_films(rig.database_url, 200)
    await rig.sync.run_once(safety=False)
    idle = await rig.sync.status()
    assert (idle.queued, idle.draining, idle.eta_seconds) == (0, False, None)

    execute(rig.database_url, "UPDATE content.film_work SET rating = 7.0")
    status = await rig.sync.status()
    assert status.queued == 3 + 200
    assert status.draining
    assert status.drain_rate is not None
    assert status.drain_rate > 0
    assert status.eta_seconds == status.queued / status.drain_rate
