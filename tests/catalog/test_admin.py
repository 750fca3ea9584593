"""The admin panel over HTTP: who enters, the catalog editing flow, posters, audit, logout.

Real stores throughout: a fresh migrated PostgreSQL database, the embedded Redis, the auth
service's own login and tokens, the local storage directory.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.catalog.app_fixtures import PASSWORD, Panel, admin_panel

ADMIN_EMAIL = "editor@example.com"
ROOT_EMAIL = "root@example.com"
VIEWER_EMAIL = "viewer@example.com"


@pytest.fixture
async def panel(fresh_database: str, flushed_redis: str, tmp_path: Path) -> AsyncIterator[Panel]:
    users = {ADMIN_EMAIL: ["admin"], ROOT_EMAIL: ["super_user"], VIEWER_EMAIL: ["public_user"]}
    async with admin_panel(fresh_database, flushed_redis, tmp_path, users) as built:
        yield built


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/admin/login", data={"username": email, "password": password})


def jpeg(size: tuple[int, int] = (600, 900)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


async def test_a_non_admin_is_refused_with_a_clear_page(panel: Panel) -> None:
    refused = await login(panel.client, VIEWER_EMAIL)

    assert refused.status_code == 403
    assert "No access to the admin panel" in refused.text
    assert VIEWER_EMAIL in refused.text
    listing = await panel.client.get("/admin/film-work/list")
    assert listing.status_code == 302
    assert listing.headers["location"].endswith("/admin/login")


async def test_wrong_password_and_anonymous_visits_go_to_the_login(panel: Panel) -> None:
    assert (await panel.client.get("/admin/")).headers["location"].endswith("/admin/login")
    # The page names its icon inline, so a browser asks for no /favicon.ico (a 404).
    assert (
        '<link rel="icon" href="data:image/svg+xml,'
        in (await panel.client.get("/admin/login")).text
    )
    wrong = await login(panel.client, ADMIN_EMAIL, "not the password")
    assert wrong.status_code == 400
    assert "Invalid credentials" in wrong.text


async def test_only_super_users_manage_roles(panel: Panel) -> None:
    assert (await login(panel.client, ADMIN_EMAIL)).status_code == 302
    assert (await panel.client.get("/admin/film-work/list")).status_code == 200
    assert (await panel.client.get("/admin/user/list")).status_code == 403
    assert "Accounts and roles" not in (await panel.client.get("/admin/")).text

    await panel.client.get("/admin/logout")
    assert (await login(panel.client, ROOT_EMAIL)).status_code == 302
    accounts = await panel.client.get("/admin/user/list")
    assert accounts.status_code == 200
    assert VIEWER_EMAIL in accounts.text
    (viewer_id,) = panel.rows("SELECT id FROM auth.users WHERE email = %s", VIEWER_EMAIL)[0]

    granted = await panel.client.post(
        f"/admin/user/edit/{viewer_id}", data={"roles": ["admin", "public_user"], "save": "Save"}
    )

    assert granted.status_code == 302
    roles = panel.rows(
        "SELECT r.name FROM auth.user_role ur JOIN auth.role r ON r.id = ur.role_id "
        "WHERE ur.user_id = %s ORDER BY r.name",
        viewer_id,
    )
    assert [name for (name,) in roles] == ["admin", "public_user"]
    await panel.client.get("/admin/logout")
    assert (await login(panel.client, VIEWER_EMAIL)).status_code == 302  # the new role lets in


async def test_the_last_super_user_keeps_the_role_in_the_panel(panel: Panel) -> None:
    assert (await login(panel.client, ROOT_EMAIL)).status_code == 302
    ((root_id,),) = panel.rows("SELECT id FROM auth.users WHERE email = %s", ROOT_EMAIL)

    refused = await panel.client.post(
        f"/admin/user/edit/{root_id}", data={"roles": ["public_user"], "save": "Save"}
    )

    assert refused.status_code == 400
    assert "last active super user" in refused.text
    held = panel.rows(
        "SELECT r.name FROM auth.user_role ur JOIN auth.role r ON r.id = ur.role_id "
        "WHERE ur.user_id = %s ORDER BY r.name",
        root_id,
    )
    assert "super_user" in [name for (name,) in held]
    assert (await panel.client.get("/admin/user/list")).status_code == 200


async def test_a_deleted_account_leaves_its_id_not_its_email_in_the_trail(panel: Panel) -> None:
    from kinoteka.auth import account, get_auth_kit

    assert (await login(panel.client, ROOT_EMAIL)).status_code == 302
    ((viewer_id,),) = panel.rows("SELECT id FROM auth.users WHERE email = %s", VIEWER_EMAIL)
    edited = await panel.client.post(
        f"/admin/user/edit/{viewer_id}",
        data={"roles": ["public_user", "subscriber"], "save": "Save"},
    )
    assert edited.status_code == 302
    await panel.client.get("/admin/logout")
    assert (await login(panel.client, ADMIN_EMAIL)).status_code == 302
    made = await panel.client.post("/admin/genre/create", data={"name": "Noir", "save": "Save"})
    assert made.status_code == 302
    ((admin_id,),) = panel.rows("SELECT id FROM auth.users WHERE email = %s", ADMIN_EMAIL)

    kit = get_auth_kit(panel.services)
    for user_id in (viewer_id, admin_id):
        async with panel.services.db.session() as session:
            await account.delete_account(session, kit, user_id)

    trail = panel.rows(
        "SELECT actor_id, actor_email, object_repr, changes FROM admin.audit_log ORDER BY id"
    )
    assert str(admin_id) in [row[0] for row in trail]  # what was done, and by which account id
    assert not any(VIEWER_EMAIL in str(row) or ADMIN_EMAIL in str(row) for row in trail), trail


async def create(
    panel: Panel, identity: str, data: dict[str, Any], **kwargs: Any
) -> httpx.Response:
    return await panel.client.post(f"/admin/{identity}/create", data=data, **kwargs)


async def test_an_admin_manages_a_film_and_the_audit_shows_each_step(panel: Panel) -> None:
    assert (await login(panel.client, ADMIN_EMAIL)).status_code == 302
    client = panel.client

    assert (await create(panel, "genre", {"name": "Drama", "save": "Save"})).status_code == 302
    assert (await create(panel, "genre", {"name": "Comedy", "save": "Save"})).status_code == 302
    duplicate = await create(panel, "genre", {"name": "drama", "save": "Save"})
    assert duplicate.status_code == 400
    assert "A genre named &#39;drama&#39; already exists." in duplicate.text
    for name in ("Ada Director", "Bo Actor"):
        assert (
            await create(panel, "person", {"full_name": name, "save": "Save"})
        ).status_code == 302
    genres = dict(panel.rows("SELECT name, id::text FROM content.genre"))
    people = dict(panel.rows("SELECT full_name, id::text FROM content.person"))

    # The person picker searches by name.
    found = (await client.get("/admin/film-work/person-lookup", params={"term": "ada"})).json()
    assert found == {"results": [{"id": people["Ada Director"], "text": "Ada Director"}]}

    film = {
        "title": "The Admin Test", "type": "movie", "creation_date": "2020-05-01",
        "rating": "8.5", "description": "Made in a test.", "genres": [genres["Drama"]],
        "credits-0-person": people["Ada Director"], "credits-0-role": "director",
        "credits-1-person": "", "credits-1-role": "actor",
        "save": "Save and continue editing",
    }  # fmt: skip

    bad_rating = await create(panel, "film-work", {**film, "rating": "11"})
    assert bad_rating.status_code == 400
    assert "Rating must be between 0 and 10." in bad_rating.text
    twice = await create(panel, "film-work", {**film, "credits-1-person": people["Ada Director"],
                                              "credits-1-role": "director"})  # fmt: skip
    assert twice.status_code == 400
    assert "The same person is credited twice as director." in twice.text
    unknown_role = await create(panel, "film-work", {**film, "credits-0-role": "hero"})
    assert unknown_role.status_code == 400
    assert "Pick a role from the list." in unknown_role.text
    assert panel.rows("SELECT count(*) FROM content.film_work") == [(0,)]

    created = await create(panel, "film-work", film)
    assert created.status_code == 302
    ((film_id,),) = panel.rows("SELECT id::text FROM content.film_work")
    assert created.headers["location"].endswith(f"/admin/film-work/edit/{film_id}")
    form = await client.get(f"/admin/film-work/edit/{film_id}")
    assert form.status_code == 200
    assert "Ada Director" in form.text  # the credit row shows its person
    assert panel.rows(
        "SELECT p.full_name, pfw.role FROM content.person_film_work pfw "
        "JOIN content.person p ON p.id = pfw.person_id WHERE pfw.film_work_id = %s",
        uuid.UUID(film_id),
    ) == [("Ada Director", "director")]

    # Edit: new title, a second genre, an actor added; the director stays.
    edited = {
        **film, "title": "The Admin Test, Edited", "genres": [genres["Drama"], genres["Comedy"]],
        "credits-1-person": people["Bo Actor"], "credits-1-role": "actor", "save": "Save",
    }  # fmt: skip
    assert (await client.post(f"/admin/film-work/edit/{film_id}", data=edited)).status_code == 302
    assert panel.rows("SELECT title FROM content.film_work") == [("The Admin Test, Edited",)]
    credits = panel.rows(
        "SELECT p.full_name, pfw.role FROM content.person_film_work pfw JOIN content.person p "
        "ON p.id = pfw.person_id ORDER BY 1"
    )
    assert credits == [("Ada Director", "director"), ("Bo Actor", "actor")]
    assert panel.rows("SELECT count(*) FROM content.genre_film_work") == [(2,)]

    details = await client.get(f"/admin/film-work/details/{film_id}")
    assert "Ada Director — director" in details.text
    assert "Comedy" in details.text

    # The person's page lists their films and roles.
    bo = await client.get(f"/admin/person/details/{people['Bo Actor']}")
    assert "The Admin Test, Edited — actor" in bo.text

    # Filters and search on the list.
    listing = await client.get(
        "/admin/film-work/list", params={"genre": genres["Comedy"], "rating": "8-10",
                                         "year": "2020", "type": "movie", "search": "edited"},
    )  # fmt: skip
    assert "The Admin Test, Edited" in listing.text
    empty = await client.get("/admin/film-work/list", params={"rating": "0-4"})
    assert "The Admin Test, Edited" not in empty.text

    # A poster: stored as WebP renditions, shown in the list, served through a signed URL.
    with_poster = {**edited, "save": "Save"}
    uploaded = await client.post(
        f"/admin/film-work/edit/{film_id}", data=with_poster,
        files={"poster": ("poster.jpg", jpeg(), "image/jpeg")},
    )  # fmt: skip
    assert uploaded.status_code == 302
    ((poster_key,),) = panel.rows("SELECT poster_key FROM content.film_work")
    assert poster_key.startswith(f"posters/{film_id}/")
    assert panel.stored_files() == [f"{poster_key}/{w}.webp" for w in (160, 320, 640)]
    listing = await client.get("/admin/film-work/list")
    thumbnail = re.search(r'<img src="([^"]+)" alt="poster"', listing.text)
    assert thumbnail is not None
    redirect = await client.get(thumbnail.group(1))
    assert redirect.status_code == 307
    image = await client.get(redirect.headers["location"])
    assert image.status_code == 200
    assert Image.open(io.BytesIO(image.content)).format == "WEBP"

    # A text file named .jpg is refused on the form, and nothing new is stored.
    refused = await client.post(
        f"/admin/film-work/edit/{film_id}", data=with_poster,
        files={"poster": ("poster.jpg", b"definitely not a JPEG\n" * 50, "image/jpeg")},
    )  # fmt: skip
    assert refused.status_code == 400
    assert "Poster refused: The file is not an image" in refused.text
    assert panel.rows("SELECT poster_key FROM content.film_work") == [(poster_key,)]
    assert len(panel.stored_files()) == 3

    # Genres and persons delete too while linked to the film (their links go with them).
    for identity, pk in (("genre", genres["Comedy"]), ("person", people["Bo Actor"])):
        gone = await client.delete(f"/admin/{identity}/delete", params={"pks": pk})
        assert gone.status_code == 200
        assert "error" not in gone.text
    assert panel.rows("SELECT name FROM content.genre") == [("Drama",)]
    assert panel.rows("SELECT full_name FROM content.person") == [("Ada Director",)]
    assert panel.rows("SELECT count(*) FROM content.genre_film_work") == [(1,)]
    assert panel.rows("SELECT count(*) FROM content.person_film_work") == [(1,)]

    # Delete (the list's confirmation modal sends this request); the poster goes with it.
    deleted = await client.delete("/admin/film-work/delete", params={"pks": film_id})
    assert deleted.status_code == 200
    assert panel.rows("SELECT count(*) FROM content.film_work") == [(0,)]
    assert panel.stored_files() == []

    # The audit trail: who did what to the film, in order, visible in the admin.
    trail = panel.rows(
        "SELECT action, actor_email, object_repr, changes FROM admin.audit_log "
        "WHERE entity = 'film-work' ORDER BY id"
    )
    assert [row[0] for row in trail] == ["create", "update", "update", "delete"]
    assert {row[1] for row in trail} == {ADMIN_EMAIL}
    created_changes, edit_changes, poster_changes = trail[0][3], trail[1][3], trail[2][3]
    assert created_changes["title"] == "The Admin Test"
    assert created_changes["credits"] == [f"{people['Ada Director']}:director"]
    assert edit_changes["title"] == ["The Admin Test", "The Admin Test, Edited"]
    assert poster_changes["poster"]["file"] == "poster.jpg"
    assert trail[3][2] == "The Admin Test, Edited"
    audit_page = await client.get("/admin/audit-record/list")
    assert audit_page.status_code == 200
    assert audit_page.text.count(ADMIN_EMAIL) >= 6  # 2 genres, 2 persons, 4 film steps
    assert "The Admin Test, Edited" in audit_page.text


async def test_the_admin_session_refreshes_its_tokens_and_logout_revokes_them(
    panel: Panel,
) -> None:
    assert (await login(panel.client, ADMIN_EMAIL)).status_code == 302
    keys = [key async for key in _session_keys(panel)]
    assert len(keys) == 1
    stored = json.loads(await panel.services.cache.get(keys[0]) or b"{}")
    stored["expires_at"] = 0  # as if the access token were about to expire
    await panel.services.cache.set(keys[0], json.dumps(stored))

    # Several requests at once, as a browser makes them: one refresh, the session survives.
    pages = await asyncio.gather(*(panel.client.get("/admin/film-work/list") for _ in range(4)))
    assert [page.status_code for page in pages] == [200] * 4

    renewed = json.loads(await panel.services.cache.get(keys[0]) or b"{}")
    assert renewed["access_token"] != stored["access_token"]
    assert renewed["refresh_token"] != stored["refresh_token"]
    assert panel.rows("SELECT count(*) FROM auth.refresh_token WHERE rotated_at IS NOT NULL") == [
        (1,)
    ]

    logged_out = await panel.client.get("/admin/logout")
    assert logged_out.headers["location"].endswith("/admin/login")
    assert await panel.services.cache.get(keys[0]) is None
    assert panel.rows("SELECT count(*) FROM auth.session WHERE revoked_at IS NULL") == [(0,)]
    assert (await panel.client.get("/admin/film-work/list")).status_code == 302


async def _session_keys(panel: Panel) -> AsyncIterator[str]:
    from redis.asyncio import Redis

    client = Redis.from_url(panel.services.urls.redis_url)
    try:
        async for key in client.scan_iter("admin:session:*"):
            yield key.decode()
    finally:
        await client.aclose()


async def test_an_oversized_poster_is_refused_and_nothing_is_stored(panel: Panel) -> None:
    assert (await login(panel.client, ADMIN_EMAIL)).status_code == 302
    width, height = 4200, 4000  # about 50 MB as an uncompressed PNG, five times the limit
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(
        buffer, "PNG", compress_level=0
    )
    assert buffer.tell() > 50_000_000
    film = {"title": "Too Big A Poster", "type": "movie", "save": "Save"}

    refused = await panel.client.post(
        "/admin/film-work/create", data=film,
        files={"poster": ("poster.png", buffer.getvalue(), "image/png")},
    )  # fmt: skip

    assert refused.status_code == 400
    refusal = r"Poster refused: The poster is 4[89]\.\d MB; the limit is 10\.0 MB\."
    assert re.search(refusal, refused.text), re.findall(r"alert-danger[^>]*>([^<]*)", refused.text)
    assert panel.rows("SELECT count(*) FROM content.film_work") == [(0,)]
    assert panel.stored_files() == []


async def test_a_role_taken_away_closes_the_panel_at_the_next_request(panel: Panel) -> None:
    from kinoteka.auth import get_auth_kit, set_account_roles

    assert (await login(panel.client, ADMIN_EMAIL)).status_code == 302
    assert (await panel.client.get("/admin/genre/list")).status_code == 200
    ((editor_id,),) = panel.rows("SELECT id FROM auth.users WHERE email = %s", ADMIN_EMAIL)
    async with panel.services.db.session() as session:
        await set_account_roles(session, get_auth_kit(panel.services), editor_id, set())

    # The access token has not expired, yet the very next request sees the change.
    refused = await panel.client.get("/admin/genre/list")

    assert refused.status_code == 403
    assert "No access to the admin panel" in refused.text
    audit = await panel.client.get("/admin/audit-record/list", params={"entity": "user"})
    assert audit.status_code == 403


async def test_mangled_links_get_a_page_not_a_server_error(panel: Panel) -> None:
    assert (await login(panel.client, ADMIN_EMAIL)).status_code == 302
    expected = {
        "/admin/film-work/edit/not-a-uuid": 404,
        "/admin/film-work/details/not-a-uuid": 404,
        f"/admin/film-work/edit/{uuid.UUID(int=0)}": 404,
        "/admin/person/details/12": 404,
        "/admin/audit-record/details/x": 404,
        "/admin/film-work/list?genre=zzz&year=abc&rating=9-99": 200,
        "/admin/film-work/list?page=abc": 400,
    }
    for url, status in expected.items():
        assert (await panel.client.get(url)).status_code == status, url
    bad_delete = await panel.client.delete("/admin/film-work/delete", params={"pks": "bad"})
    assert bad_delete.status_code == 404


async def test_a_poster_over_the_decoded_size_limit_gets_a_400_naming_it(
    fresh_database: str, flushed_redis: str, tmp_path: Path
) -> None:
    from kinoteka.catalog.settings import CatalogSettings, PosterSettings
    from tests.catalog.test_posters import sixteen_bit_png

    tight = CatalogSettings(posters=PosterSettings(max_decoded_bytes=64 * 1024 * 1024))
    users = {ADMIN_EMAIL: ["admin"]}
    async with admin_panel(fresh_database, flushed_redis, tmp_path, users, catalog=tight) as panel:
        assert (await login(panel.client, ADMIN_EMAIL)).status_code == 302
        refused = await create(
            panel, "film-work", {"title": "Heavy Poster", "type": "movie", "save": "Save"},
            files={"poster": ("poster.png", sixteen_bit_png(), "image/png")},
        )  # fmt: skip
        assert refused.status_code == 400
        assert "decoded it would take 137 MB, over the limit of 64 MB" in refused.text
        assert panel.rows("SELECT count(*) FROM content.film_work") == [(0,)]
        assert panel.stored_files() == []
