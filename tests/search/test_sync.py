"""The incremental sync on a small catalog: fan-out, deletes, late commits, checkpoints."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest

from kinoteka.infra import db as db_port
from kinoteka.infra.db import libpq_url
from kinoteka.infra.search import (
    SearchError,
    SearchIndex,
    SearchQuery,
    SearchUnavailable,
    Upsert,
)
from kinoteka.search.service import catalog_sync, open_index
from kinoteka.search.settings import BackoffSettings, SearchSettings
from kinoteka.search.state import YamlStateStore
from kinoteka.search.sync import CHANNEL
from tests.search.conftest import SyncRig, execute, seed_small_catalog


async def film(rig: SyncRig, title: str) -> dict[str, object] | None:
    return await rig.index.get("movies", rig.catalog.films[title])


async def test_first_run_loads_everything_then_only_changes(rig: SyncRig) -> None:
    first = await rig.sync.run_once()
    assert first.loaded == 3 + 2 + 3
    assert await rig.index.count("movies") == 3
    document = await film(rig, "Blade Runner")
    assert document is not None
    assert document["genres"] == ["Drama", "Sci-Fi"]
    assert document["directors_names"] == ["Ridley Scott"]
    assert document["writers"] == [
        {"id": rig.catalog.persons["Denis Villeneuve"], "name": "Denis Villeneuve"}
    ]
    again = await rig.sync.run_once()
    assert (again.loaded, again.upserted, again.deleted) == (0, 0, 0)


async def test_renaming_a_person_changes_every_film_crediting_them(rig: SyncRig) -> None:
    await rig.sync.run_once()
    execute(
        rig.database_url,
        "UPDATE content.person SET full_name = 'Sir Ridley Scott' WHERE id = %s",
        (rig.catalog.persons["Ridley Scott"],),
    )
    report = await rig.sync.run_once()
    assert report.upserted == 3  # two films and the person
    for title in ("Alien", "Blade Runner"):
        document = await film(rig, title)
        assert document is not None
        assert document["directors_names"] == ["Sir Ridley Scott"]
    arrival = await film(rig, "Arrival")
    assert arrival is not None
    assert arrival["directors_names"] == ["Denis Villeneuve"]
    person = await rig.index.get("persons", rig.catalog.persons["Ridley Scott"])
    assert person is not None
    assert person["full_name"] == "Sir Ridley Scott"


async def test_renaming_a_genre_changes_its_films(rig: SyncRig) -> None:
    await rig.sync.run_once()
    execute(
        rig.database_url, "UPDATE content.genre SET name = 'Science fiction' WHERE name = 'Sci-Fi'"
    )
    await rig.sync.run_once()
    for title in ("Alien", "Arrival"):
        document = await film(rig, title)
        assert document is not None
        assert document["genres"] == ["Science fiction"]


async def test_deletes_reach_the_index(rig: SyncRig) -> None:
    await rig.sync.run_once()
    catalog = rig.catalog
    execute(
        rig.database_url, "DELETE FROM content.film_work WHERE id = %s", (catalog.films["Alien"],)
    )
    execute(
        rig.database_url,
        "DELETE FROM content.genre_film_work WHERE film_work_id = %s AND genre_id = %s",
        (catalog.films["Blade Runner"], catalog.genres["Drama"]),
    )
    execute(
        rig.database_url,
        "DELETE FROM content.person WHERE id = %s",
        (catalog.persons["Denis Villeneuve"],),
    )
    report = await rig.sync.run_once()
    assert report.deleted == 2  # the film and the person
    assert await film(rig, "Alien") is None
    assert await rig.index.get("persons", catalog.persons["Denis Villeneuve"]) is None
    blade_runner = await film(rig, "Blade Runner")
    assert blade_runner is not None
    assert blade_runner["genres"] == ["Sci-Fi"]
    assert blade_runner["writers"] == []
    arrival = await film(rig, "Arrival")
    assert arrival is not None
    assert arrival["directors"] == []
    weaver = await rig.index.get("persons", catalog.persons["Sigourney Weaver"])
    assert weaver is not None
    assert weaver["films"] == []
    assert (await rig.sync.verify()).ok


async def test_update_in_a_transaction_open_across_a_pass_is_picked_up(rig: SyncRig) -> None:
    await rig.sync.run_once()
    with psycopg.connect(libpq_url(rig.database_url)) as late:
        late.execute(
            "UPDATE content.film_work SET title = 'Alien: Director''s Cut' WHERE id = %s",
            (rig.catalog.films["Alien"],),
        )
        execute(
            rig.database_url,
            "UPDATE content.film_work SET rating = 9.9 WHERE id = %s",
            (rig.catalog.films["Arrival"],),
        )
        await rig.sync.run_once()  # sees the later, committed change only
        arrival = await film(rig, "Arrival")
        assert arrival is not None
        assert arrival["imdb_rating"] == 9.9
        alien = await film(rig, "Alien")
        assert alien is not None
        assert alien["title"] == "Alien"
        late.commit()
    await rig.sync.run_once()
    alien = await film(rig, "Alien")
    assert alien is not None
    assert alien["title"] == "Alien: Director's Cut"


async def test_safety_pass_catches_changes_the_triggers_missed(rig: SyncRig) -> None:
    await rig.sync.run_once()
    with psycopg.connect(libpq_url(rig.database_url)) as connection:
        # a replica-role session bypasses ordinary triggers, as a logical restore would
        connection.execute("SET session_replication_role = replica")
        connection.execute(
            "UPDATE content.film_work SET title = 'Arrival (2016)', modified = now() WHERE id = %s",
            (rig.catalog.films["Arrival"],),
        )
    await rig.sync.run_once(safety=False)
    arrival = await film(rig, "Arrival")
    assert arrival is not None
    assert arrival["title"] == "Arrival"
    rig.sync.checkpoint.safety_at = None  # due now
    await rig.sync.run_once()
    arrival = await film(rig, "Arrival")
    assert arrival is not None
    assert arrival["title"] == "Arrival (2016)"


async def test_yaml_checkpoint_resumes_without_a_full_reload(
    fresh_database: str, tmp_path: Path
) -> None:
    seed_small_catalog(fresh_database)
    search_url = f"tantivy://{tmp_path / 'index'}"
    state = tmp_path / "state.yaml"
    settings = SearchSettings(load_batch_size=2)
    db = db_port.from_url(fresh_database, pool_size=2)
    try:
        first = catalog_sync(db, open_index(search_url, settings), search_url, settings, state)
        assert (await first.run_once()).loaded == 8
        saved = await YamlStateStore(state).load()
        assert saved.loaded
        assert saved.load_done == ["film", "genre", "person"]
        execute(fresh_database, "UPDATE content.film_work SET rating = 1.0")
        second = catalog_sync(db, open_index(search_url, settings), search_url, settings, state)
        report = await second.run_once()
        assert report.loaded == 0
        assert report.upserted == 3
    finally:
        await db.close()


async def test_status_reports_queue_lag_and_counts(rig: SyncRig) -> None:
    await rig.sync.run_once()
    execute(rig.database_url, "UPDATE content.film_work SET rating = 5.0")
    status = await rig.sync.status()
    assert status.queued == 3
    assert status.lag_seconds >= 0
    assert status.index_counts == {"movies": 3, "genres": 2, "persons": 3}
    assert status.checkpoint.loaded


async def test_verify_reports_a_mismatch(rig: SyncRig) -> None:
    await rig.sync.run_once()
    await rig.index.bulk("movies", deletes=[rig.catalog.films["Alien"]])
    report = await rig.sync.verify()
    assert not report.ok
    assert report.counts["movies"] == (3, 2)
    assert report.mismatched["movies"] == [rig.catalog.films["Alien"]]


async def _wait_until_listening(database_url: str) -> None:
    """Poll until a session of this database has issued LISTEN on the sync's channel."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with psycopg.connect(libpq_url(database_url)) as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query ILIKE %s",
                (f"LISTEN%{CHANNEL}%",),
            ).fetchone()
        if row and row[0]:
            return
        await asyncio.sleep(0.02)
    pytest.fail("the follower did not LISTEN in time")


async def test_follow_picks_up_an_edit_within_a_second(rig: SyncRig) -> None:
    await rig.sync.run_once()
    stop = asyncio.Event()
    following = asyncio.create_task(rig.sync.follow(stop))
    try:
        await _wait_until_listening(rig.database_url)
        started = time.monotonic()
        execute(
            rig.database_url,
            "UPDATE content.film_work SET title = 'Alien³' WHERE id = %s",
            (rig.catalog.films["Alien"],),
        )
        while time.monotonic() - started < 5:
            hits = await rig.index.search(SearchQuery("movies", text="alien³"))
            document = hits.documents[0] if hits.documents else None
            if document is not None and document["title"] == "Alien³":
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the edit did not reach the index within 5 s")
        assert time.monotonic() - started < 1.0
    finally:
        stop.set()
        await asyncio.wait_for(following, 10)


async def test_rebuild_keeps_searches_answering(rig: SyncRig) -> None:
    await rig.sync.run_once()
    reader = open_index(rig.search_url, rig.sync.settings)  # another client, as the API holds
    done = asyncio.Event()
    failures: list[str] = []
    rounds = 0

    async def search_loop() -> None:
        nonlocal rounds
        while not done.is_set():
            try:
                hits = await reader.search(SearchQuery("movies", text="alien blade arrival"))
                if hits.total != 3:
                    failures.append(f"total {hits.total}")
            except Exception as error:
                failures.append(repr(error))
            rounds += 1
            await asyncio.sleep(0)

    looping = asyncio.create_task(search_loop())
    loaded = await rig.sync.rebuild()
    done.set()
    await looping
    assert loaded == {"movies": 3, "genres": 2, "persons": 3}
    assert failures == []
    assert rounds > 0
    execute(
        rig.database_url, "UPDATE content.film_work SET title = 'Alien 2' WHERE title = 'Alien'"
    )
    await rig.sync.run_once()  # the follower writes into the new version
    hits = await reader.search(SearchQuery("movies", text="alien"))
    assert [d["title"] for d in hits.documents] == ["Alien 2"]
    assert len(list((Path(rig.search_url.removeprefix("tantivy://")) / "movies").glob("v*"))) == 1
    await reader.close()


async def test_follower_rebuilds_an_index_lost_under_it(rig: SyncRig) -> None:
    await rig.sync.run_once()
    stop = asyncio.Event()
    following = asyncio.create_task(rig.sync.follow(stop))
    root = Path(rig.search_url.removeprefix("tantivy://"))
    try:
        shutil.rmtree(root / "movies")
        execute(rig.database_url, "UPDATE content.genre SET name = 'Drama!' WHERE name = 'Drama'")
        ends = time.monotonic() + 20
        while True:
            with contextlib.suppress(SearchError):
                if await rig.index.count("movies") == 3:
                    break
            assert time.monotonic() < ends, "the lost index was not rebuilt"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(following, 10)
    blade_runner = await film(rig, "Blade Runner")
    assert blade_runner is not None
    assert blade_runner["genres"] == ["Drama!", "Sci-Fi"]
    assert (await rig.sync.verify()).ok


class FlakyIndex:
    """An index whose `fail_on`-th bulk call fails once, as an outage of the index would:
    the index has dropped whatever it held uncommitted. With `after_write`, the call fails
    once its batch is written (committed, when it commits): the acknowledgement is what got
    lost, as when the process dies between an index commit and the checkpoint save."""

    def __init__(self, inner: SearchIndex, fail_on: int, *, after_write: bool = False) -> None:
        self.inner = inner
        self.fail_on = fail_on
        self.after_write = after_write
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def bulk(
        self,
        index: str,
        upserts: Sequence[Upsert] = (),
        deletes: Sequence[str] = (),
        *,
        commit: bool = True,
        new: bool = False,
    ) -> None:
        self.calls += 1
        if self.calls == self.fail_on and self.after_write:
            await self.inner.bulk(index, upserts, deletes, commit=commit, new=new)
            raise SearchUnavailable("injected loss of the acknowledgement")
        if self.calls == self.fail_on:
            poison = {"id": {"not", "a", "string"}}  # refused by every index: it rolls back
            with contextlib.suppress(SearchError, TypeError, ValueError):
                await self.inner.bulk(index, [poison])
            raise SearchUnavailable("injected outage")
        await self.inner.bulk(index, upserts, deletes, commit=commit, new=new)


@pytest.mark.parametrize(
    ("fail_on", "after_write"),
    [(1, False), (2, False), (3, False), (4, False), (6, False), (2, True), (4, True), (6, True)],
)
async def test_a_load_committed_in_groups_survives_a_failed_call(
    fresh_database: str, tmp_path: Path, fail_on: int, after_write: bool
) -> None:
    seed_small_catalog(fresh_database)
    search_url = f"tantivy://{tmp_path / 'index'}"
    # one document a page, two a commit: pages held uncommitted, commits, and kinds' ends
    settings = SearchSettings(
        load_batch_size=1, load_commit_size=2, backoff=BackoffSettings(initial=0.01)
    )
    db = db_port.from_url(fresh_database, pool_size=2)
    inner = open_index(search_url, settings)
    index = FlakyIndex(inner, fail_on, after_write=after_write)
    try:
        sync = catalog_sync(db, cast(SearchIndex, index), search_url, settings)
        report = await sync.run_once()
        assert index.calls > fail_on
        # a batch the index took but the sync never saw acknowledged is written again:
        # it replaces what is there (no duplicates), and the counts stay exact
        assert report.loaded == 3 + 2 + 3
        assert sync.checkpoint.documents == 3 + 2 + 3
        assert {name: await inner.count(name) for name in ("movies", "genres", "persons")} == {
            "movies": 3, "genres": 2, "persons": 3,
        }  # fmt: skip
        assert not sync.checkpoint.load_pending
        assert (await sync.verify()).ok
    finally:
        await inner.close()
        await db.close()


async def test_a_full_load_over_a_populated_index_leaves_no_stale_document(
    fresh_database: str, tmp_path: Path
) -> None:
    seed_small_catalog(fresh_database)
    search_url = f"tantivy://{tmp_path / 'index'}"
    state = tmp_path / "state.yaml"
    settings = SearchSettings()
    db = db_port.from_url(fresh_database, pool_size=2)
    index = open_index(search_url, settings)
    try:
        await catalog_sync(db, index, search_url, settings, state).run_once()
        stray = {"id": "00000000-0000-4000-8000-000000000000", "title": "Not in the catalog"}
        await index.bulk("movies", [stray])
        state.unlink()  # the checkpoint is lost: the next run loads everything again
        report = await catalog_sync(db, index, search_url, settings, state).run_once()
        assert report.loaded == 3 + 2 + 3
        assert await index.count("movies") == 3
        assert await index.get("movies", stray["id"]) is None
    finally:
        await index.close()
        await db.close()


async def test_an_older_layout_keeps_answering_while_the_sync_rebuilds_it(rig: SyncRig) -> None:
    from kinoteka.infra.search.tantivy import LAYOUT_FILE

    await rig.sync.run_once()
    root = Path(rig.search_url.removeprefix("tantivy://"))
    old = (root / "movies" / "CURRENT").read_text()
    (root / "movies" / old / LAYOUT_FILE).write_text("an older layout")
    await rig.index.close()

    # The app starts: the API's client and the sync's open the index anew.
    reader = open_index(rig.search_url, rig.sync.settings)
    assert await reader.ensure_indexes() == []  # start-up empties nothing
    assert await reader.outdated() == ["movies"]
    db = db_port.from_url(rig.database_url, pool_size=2)
    index = open_index(rig.search_url, rig.sync.settings)
    sync = catalog_sync(db, index, rig.search_url, rig.sync.settings)
    done = asyncio.Event()
    totals: list[int] = []

    async def search_loop() -> None:
        while not done.is_set():
            totals.append((await reader.search(SearchQuery("movies", text="alien"))).total)
            await asyncio.sleep(0)

    looping = asyncio.create_task(search_loop())
    try:
        report = await sync.run_once()
    finally:
        done.set()
        await looping
    try:
        assert totals
        assert set(totals) == {1}  # every search during the rebuild found the film
        assert report.loaded == 0  # a rebuild of that index, not a full load of all
        assert await index.outdated() == []
        assert not (root / "movies" / old).exists()
        assert await reader.count("movies") == 3
        assert (await sync.verify()).ok
    finally:
        await reader.close()
        await index.close()
        await db.close()


async def test_viewers_ratings_and_reviews_reach_the_film_document(rig: SyncRig) -> None:
    """ugc's per-film counters queue the film (its trigger) and the film query reads them."""
    import uuid

    from kinoteka.infra import documents as documents_port
    from kinoteka.infra.search import Sort
    from kinoteka.ugc import rate_film, remove_rating, write_review
    from kinoteka.ugc.settings import UgcSettings

    await rig.sync.run_once()
    store = documents_port.from_url(rig.database_url)
    alien = uuid.UUID(rig.catalog.films["Alien"])
    first, second = uuid.uuid4(), uuid.uuid4()
    try:
        await rate_film(store, first, alien, 9)
        await rate_film(store, second, alien, 4)
        await write_review(store, UgcSettings(), first, alien, text="Tense.", score=9)
        passed = await rig.sync.run_once()
        assert passed.upserted == 1
        document = await film(rig, "Alien")
        assert document is not None
        assert (document["user_rating"], document["user_rating_count"]) == (6.5, 2)
        assert document["review_count"] == 1
        ranked = await rig.index.search(
            SearchQuery(index="movies", sort=Sort("user_rating", descending=True), limit=3)
        )
        assert ranked.documents[0]["id"] == str(alien)

        await remove_rating(store, second, alien)
        await rig.sync.run_once()
        document = await film(rig, "Alien")
        assert document is not None
        assert (document["user_rating"], document["user_rating_count"]) == (9.0, 1)
    finally:
        await store.close()


async def test_a_film_document_says_when_the_film_entered_the_catalog(rig: SyncRig) -> None:
    """`added` is the catalog row's `created` (seconds since 1970): the "new" order."""
    from kinoteka.infra.search import Sort

    await rig.sync.run_once()
    arrival = rig.catalog.films["Arrival"]
    execute(
        rig.database_url,
        "UPDATE content.film_work SET created = now() + interval '1 day' WHERE id = %s",
        (arrival,),
    )
    await rig.sync.run_once()
    with psycopg.connect(libpq_url(rig.database_url)) as connection:
        [(created,)] = connection.execute(
            "SELECT extract(epoch FROM created)::float FROM content.film_work WHERE id = %s",
            (arrival,),
        ).fetchall()
    document = await film(rig, "Arrival")
    assert document is not None
    assert document["added"] == pytest.approx(created, abs=1e-3)
    newest = await rig.index.search(
        SearchQuery(index="movies", sort=Sort("added", descending=True), limit=2)
    )
    assert newest.documents[0]["id"] == arrival
    oldest = await rig.index.search(SearchQuery(index="movies", sort=Sort("added"), limit=50))
    assert oldest.documents[-1]["id"] == arrival
