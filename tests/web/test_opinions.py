"""Viewers' content on the pages over HTTP: bookmark, rate, review, vote, moderate, the
account page's lists, and every refusal as a page with its reason (never a 500)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kinoteka.app import create_app
from kinoteka.infra.search import SearchIndex
from kinoteka.services import Services
from tests.web.conftest import PASSWORD, web_client, web_services
from tests.web.test_accounts import EMAIL, csrf_of, sign_up

Index = tuple[str, SearchIndex]
FILM_LINK = re.compile(r'href="/films/([0-9a-f-]{36})"')


@pytest.fixture
async def site(
    fresh_database: str, flushed_redis: str, web_index: Index, tmp_path: Path
) -> AsyncIterator[tuple[Services, httpx.AsyncClient, str]]:
    services = web_services(fresh_database, flushed_redis, web_index, tmp_path)
    app = create_app(services, ["web", "auth", "ugc"])
    async with web_client(services, app=app) as client:
        home = await client.get("/")
        film_id = FILM_LINK.search(home.text).group(1)  # type: ignore[union-attr]
        yield services, client, film_id


async def post(client: httpx.AsyncClient, film_id: str, path: str, **fields: str) -> httpx.Response:
    page = await client.get(f"/films/{film_id}")
    return await client.post(
        f"/films/{film_id}{path}", data={"csrftoken": csrf_of(page.text), **fields}
    )


async def test_anonymous_visitors_see_the_summary_and_reviews_but_no_controls(
    site: tuple[Services, httpx.AsyncClient, str],
) -> None:
    _, client, film_id = site
    page = await client.get(f"/films/{film_id}")
    assert page.status_code == 200
    assert "Viewers&#39; ratings" in page.text
    assert "No ratings yet." in page.text
    assert "No reviews yet." in page.text
    assert f'href="/signin?next=/films/{film_id}"' in page.text
    assert f'action="/films/{film_id}/rating"' not in page.text
    assert f'action="/films/{film_id}/review"' not in page.text
    # A form posted anyway (with a token) is sent to sign in, back to the film.
    token = csrf_of((await client.get("/signin")).text)
    refused = await client.post(f"/films/{film_id}/rating", data={"csrftoken": token, "score": "7"})
    assert refused.status_code == 303
    assert refused.headers["location"] == f"/signin?next=%2Ffilms%2F{film_id}"


async def test_a_viewer_bookmarks_rates_reviews_and_finds_it_all_on_the_account_page(
    site: tuple[Services, httpx.AsyncClient, str],
) -> None:
    _, client, film_id = site
    await sign_up(client)
    page = await client.get(f"/films/{film_id}")
    assert f'action="/films/{film_id}/bookmark"' in page.text

    added = await post(client, film_id, "/bookmark")
    assert added.status_code == 303
    assert added.headers["location"] == f"/films/{film_id}?notice=bookmarked#your-take"
    page = await client.get(added.headers["location"])
    assert "The film is in your bookmarks." in page.text
    assert 'aria-pressed="true">★ Bookmarked' in page.text

    rated = await post(client, film_id, "/rating", score="8")
    assert rated.status_code == 303
    page = await client.get(f"/films/{film_id}")
    assert 'value="8" checked' in page.text
    assert "★ 8.0" in page.text
    assert "1 rating" in page.text

    text = "Slow, <b>strange</b> and worth it."
    written = await post(client, film_id, "/review", text=text, score="9")
    assert written.status_code == 303
    page = await client.get(f"/films/{film_id}")
    assert "Slow, &lt;b&gt;strange&lt;/b&gt; and worth it." in page.text  # escaped
    assert "<b>strange</b>" not in page.text
    assert "Edit your review" in page.text
    assert "1 review" in page.text

    edited = await post(client, film_id, "/review", text="Better the second time.", score="10")
    assert edited.status_code == 303
    page = await client.get(f"/films/{film_id}")
    assert "Better the second time." in page.text
    assert "(edited)" in page.text

    account = await client.get("/account")
    assert account.status_code == 200
    mine = account.text.split('id="my-bookmarks"')[1].split('id="devices"')[0]
    assert f'href="/films/{film_id}"' in mine
    assert "Better the second time." in mine
    assert "<title>Account · Kinoteka</title>" in account.text

    removed = await post(client, film_id, "/bookmark", action="remove")
    assert removed.status_code == 303
    unrated = await post(client, film_id, "/rating", action="remove")
    assert unrated.status_code == 303
    deleted = await post(client, film_id, "/review/delete")
    assert deleted.status_code == 303
    page = await client.get(f"/films/{film_id}")
    assert "No ratings yet." in page.text
    assert "No reviews yet." in page.text
    account = await client.get("/account")
    assert "No bookmarks yet" in account.text
    assert "No reviews yet: write one" in account.text


@pytest.mark.parametrize(
    ("path", "fields", "status", "message"),
    [
        ("/rating", {"score": "11"}, 400, "Choose a score from 0 to 10."),
        ("/rating", {"score": "-1"}, 400, "Choose a score from 0 to 10."),
        ("/rating", {"score": "seven"}, 400, "Choose a score from 0 to 10."),
        ("/rating", {}, 400, "Choose a score from 0 to 10."),
        ("/review", {"text": "Fine.", "score": "12"}, 400, "Choose a score from 0 to 10."),
        ("/review", {"text": "   ", "score": "5"}, 400, "Write a few words of the review first."),
        ("/review", {"text": "x" * 5001, "score": "5"}, 400, "at most 5000 characters"),
        ("/review", {"text": "bell \x07", "score": "5"}, 400, "control characters"),
        ("/review/delete", {}, 404, "You have no review of this film."),
        (f"/reviews/{uuid.uuid4()}/vote", {"value": "like"}, 404, "not here any more"),
        (f"/reviews/{uuid.uuid4()}/hide", {}, 403, "Only moderators"),
    ],
)
async def test_bad_input_re_renders_the_film_page_with_the_reason(
    site: tuple[Services, httpx.AsyncClient, str],
    path: str,
    fields: dict[str, str],
    status: int,
    message: str,
) -> None:
    _, client, film_id = site
    await sign_up(client)
    answer = await post(client, film_id, path, **fields)
    assert answer.status_code == status
    assert message in answer.text
    assert 'role="alert"' in answer.text
    if path == "/review" and fields["text"].strip():
        assert "x" * 100 in answer.text or "bell" in answer.text  # the draft is kept


async def test_forms_refuse_a_missing_token_an_unknown_film_and_a_bad_review_id(
    site: tuple[Services, httpx.AsyncClient, str],
) -> None:
    _, client, film_id = site
    await sign_up(client)
    no_token = await client.post(f"/films/{film_id}/bookmark", data={})
    assert no_token.status_code == 403
    page = await client.get(f"/films/{film_id}")
    token = csrf_of(page.text)
    unknown = await client.post(f"/films/{uuid.uuid4()}/bookmark", data={"csrftoken": token})
    assert unknown.status_code == 404
    bad_id = await client.post(f"/films/{film_id}/reviews/nope/vote", data={"csrftoken": token})
    assert bad_id.status_code == 400
    bad_sort = await client.get(f"/films/{film_id}", params={"reviews_sort": "worst"})
    assert bad_sort.status_code == 400


async def test_votes_sorting_paging_and_moderation(
    site: tuple[Services, httpx.AsyncClient, str], flushed_redis: str
) -> None:
    from kinoteka import auth, ugc

    services, client, film_id = site
    store = ugc.get_ugc(services).store
    film = uuid.UUID(film_id)
    authors = [uuid.uuid4() for _ in range(12)]
    for number, author in enumerate(authors):
        await ugc.write_review(
            store, ugc.get_ugc(services).settings, author, film,
            text=f"Review number {number}.", score=number % 11,
        )  # fmt: skip
    await sign_up(client)
    page = await client.get(f"/films/{film_id}")
    assert "Review number 11." in page.text  # newest first
    assert "Review number 1." not in page.text  # on the second page
    assert f"/films/{film_id}?reviews_page=2" in page.text
    second = await client.get(f"/films/{film_id}", params={"reviews_page": 2})
    assert "Review number 1." in second.text

    oldest = (await ugc.film_reviews(store, film, sort=ugc.ReviewSort.NEWEST, limit=20)).items[-1]
    voted = await post(client, film_id, f"/reviews/{oldest.id}/vote", value="like")
    assert voted.status_code == 303
    assert voted.headers["location"] == f"/films/{film_id}#review-{oldest.id}"
    liked = await client.get(f"/films/{film_id}", params={"reviews_sort": "most_liked"})
    first = liked.text.split('class="review-list"')[1]
    assert first.index("Review number 0.") < first.index("Review number 11.")
    assert 'value="withdraw" class="secondary small" aria-pressed="true"' in liked.text
    again = await post(client, film_id, f"/reviews/{oldest.id}/vote", value="withdraw")
    assert again.status_code == 303
    assert (await ugc.get_review(store, oldest.id, viewer=None)).likes == 0
    bad_vote = await post(client, film_id, f"/reviews/{oldest.id}/vote", value="love")
    assert bad_vote.status_code == 400

    # A moderator (admins hold ugc.moderate) hides a review and restores it.
    assert "Hide</button>" not in (await client.get(f"/films/{film_id}")).text
    async with services.db.session() as db:
        user_id = await _user_id(db)
        await auth.set_account_roles(
            db, auth.get_auth_kit(services), user_id, {"public_user", "admin"}
        )
    signin = await client.get("/signin")
    await client.post("/signin", data={"csrftoken": csrf_of(signin.text),
                                       "email": EMAIL, "password": PASSWORD})  # fmt: skip
    page = await client.get(f"/films/{film_id}")
    assert "Hide</button>" in page.text
    hidden = await post(client, film_id, f"/reviews/{oldest.id}/hide")
    assert hidden.status_code == 303
    assert (await ugc.rating_summary(store, film)).reviews == 11
    page = await client.get(f"/films/{film_id}", params={"reviews_page": 2})
    assert "Restore</button>" in page.text  # moderators still see it, flagged
    restored = await post(client, film_id, f"/reviews/{oldest.id}/restore")
    assert restored.status_code == 303
    assert (await ugc.rating_summary(store, film)).reviews == 12


async def _user_id(db: object) -> uuid.UUID:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(db, AsyncSession)
    return uuid.UUID(str((await db.execute(text("SELECT id FROM auth.users"))).scalar_one()))


async def test_an_anonymous_film_page_follows_the_index_counters_a_viewer_the_store(
    site: tuple[Services, httpx.AsyncClient, str], web_index: Index
) -> None:
    """An anonymous visitor's film page reads the store only when the film's index document
    says it has ratings or reviews (the sync puts ugc's counters there); a signed-in viewer's
    reads the store always."""
    from kinoteka.search.settings import SearchSettings

    _, client, film_id = site
    await sign_up(client)
    assert (await post(client, film_id, "/rating", score="8")).status_code == 303
    assert "1 rating" in (await client.get(f"/films/{film_id}")).text
    client.cookies.delete("kinoteka_session")
    # The index has not taken the counters yet (no sync runs here): nobody rated it, it says.
    assert "No ratings yet." in (await client.get(f"/films/{film_id}")).text

    _, index = web_index
    movies = SearchSettings().indexes.movies
    original = await index.get(movies, film_id)
    assert original is not None
    await index.bulk(movies, [{**original, "user_rating": 8.0, "user_rating_count": 1}])
    try:
        await index.refresh()
        page = await client.get(f"/films/{film_id}")
        assert page.headers["x-cache"] == "miss"  # a new index version, a fresh page
        assert "1 rating" in page.text
        assert "★ 8.0" in page.text
    finally:
        await index.bulk(movies, [original])
        await index.refresh()
