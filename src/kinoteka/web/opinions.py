"""Viewers' content on the pages: a film's bookmark, 0-10 rating with its summary, reviews
with likes and moderation; the account page's bookmarks and reviews.

Plain forms posting to these routes (POST, redirect, GET; the CSRF token in every form, the
page guard checks it), through ugc's public functions and its write rate. Bad input
re-renders the film page with the reason (4xx), never a 500. Anonymous visitors see the
summary and the reviews and are offered to sign in instead of the controls.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from kinoteka import auth, content, ugc
from kinoteka.infra.documents import DocumentStore
from kinoteka.web import viewing
from kinoteka.web.i18n import N_
from kinoteka.web.kit import Viewer, WebKit, page_route
from kinoteka.web.paging import MAX_PAGE, Pager
from kinoteka.web.playback import PlaybackInfo

log = structlog.get_logger(__name__)

WRITE = "ugc.write"
MODERATE = "ugc.moderate"
REVIEWS_PAGE = 10
ACCOUNT_PAGE = 12
ReviewSortValue = Literal["newest", "most_liked"]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE)]
SCORES = range(11)

REFUSALS: dict[type[ugc.UgcError], tuple[int, str]] = {
    ugc.ReviewExists: (409, N_("You have reviewed this film already; edit that review.")),
    ugc.NotAuthor: (403, N_("Only its author may change this review.")),
    ugc.ReviewNotFound: (404, N_("That review is not here any more.")),
    ugc.TooManyWrites: (429, N_("Too many changes at once. Wait a minute and try again.")),
}


class Refused(Exception):
    """A form the page answers with the film page again and this reason."""

    def __init__(self, status_code: int, message: str, **values: object) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.values = values


@dataclass
class FilmOpinions:
    """What the film page shows of its viewers' content."""

    summary: ugc.RatingSummary
    reviews: ugc.ReviewPage
    pager: Pager
    sort: str
    bookmarked: bool = False
    my_score: int | None = None
    my_review: ugc.Review | None = None
    votes: dict[uuid.UUID, ugc.VoteValue] = field(default_factory=dict)
    can_write: bool = False
    moderator: bool = False

    @property
    def bars(self) -> list[tuple[int, int, int]]:
        """(score, ratings, percent of the most given score), best score first."""
        counts = self.summary.distribution
        top = max(counts.values(), default=0) or 1
        return [(s, counts.get(str(s), 0), round(100 * counts.get(str(s), 0) / top))
                for s in reversed(SCORES)]  # fmt: skip


async def read_opinions(
    kit: WebKit,
    request: Request,
    film_id: uuid.UUID,
    claims: auth.AccessClaims | None,
    *,
    sort: ReviewSortValue,
    page: int,
    film: content.FilmView | None = None,
) -> FilmOpinions:
    """What `film_id`'s page shows of its viewers' content; `film`, its index document, spares
    an anonymous visitor's page the store's read when it says nobody rated or reviewed it."""
    kit_ugc = ugc.get_ugc(kit.services)
    store = kit_ugc.store
    moderator = claims is not None and claims.has(MODERATE)
    if claims is None and film is not None and _unrated_in_index(film, kit_ugc):
        summary = ugc.RatingSummary(
            film_id=film_id, average=None, count=0, reviews=0,
            distribution={str(score): 0 for score in SCORES},
        )  # fmt: skip
    else:
        summary = await ugc.rating_summary(store, film_id)
    if summary.reviews == 0 and not moderator:
        # The counters say there is no visible review: most films, and no list to read.
        reviews = ugc.ReviewPage(items=[], total=0)
    else:
        reviews = await ugc.film_reviews(
            store, film_id, sort=ugc.ReviewSort(sort), limit=REVIEWS_PAGE,
            offset=(page - 1) * REVIEWS_PAGE, include_hidden=moderator,
        )  # fmt: skip
    found = FilmOpinions(
        summary=summary,
        reviews=reviews,
        pager=Pager.of(request, page, REVIEWS_PAGE, reviews.total, key="reviews_page"),
        sort=sort,
        moderator=moderator,
    )
    if claims is None:
        return found
    user = claims.subject
    found.can_write = claims.has(WRITE)
    found.bookmarked, rating, found.my_review, found.votes = await asyncio.gather(
        ugc.is_bookmarked(store, user, film_id),
        _my_score(store, user, film_id),
        ugc.my_review(store, user, film_id),
        ugc.my_votes(store, user, [review.id for review in reviews.items]),
    )
    found.my_score = rating
    return found


def _unrated_in_index(film: content.FilmView, kit: ugc.UgcKit) -> bool:
    """Whether the film's index document says it has no rating and no visible review, and
    carries ugc's counters at all: the sync joins them from the PostgreSQL store only
    (`docs/architecture.md`), the store the genre audience needs too. The index lags the
    store by the sync's latency, as every anonymous page does (the page cache keys pages by
    the index version); a signed-in viewer's page always reads the store."""
    return (
        film.user_rating_count == 0
        and film.review_count == 0
        and ugc.genre_audience_available(kit.settings)
    )


async def _my_score(store: DocumentStore, user: uuid.UUID, film_id: uuid.UUID) -> int | None:
    try:
        return (await ugc.my_rating(store, user, film_id)).score
    except ugc.RatingNotFound:
        return None


async def film_page(
    kit: WebKit,
    request: Request,
    film_id: str,
    *,
    sort: ReviewSortValue = "newest",
    page: int = 1,
    error: str | None = None,
    draft: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The film page: the film, and its viewers' content. Its video's poster and animated
    preview come from the index document (public paths, so every visitor sees them and the
    anonymous page cache follows them with the index version); a signed-in viewer's page asks
    the stream endpoint too, whose signed URLs are ahead of the sync."""
    session = await kit.browsing(request)
    found = await kit.queries().get_film_view(film_id)
    claims = session.claims if session is not None else None
    playback: PlaybackInfo | None = None
    if claims is not None and session is not None and session.login is not None:
        answer = await kit.playback.fetch(request, found.uuid, session.login.access_token)
        playback = answer if isinstance(answer, PlaybackInfo) else None
    opinions = await read_opinions(
        kit, request, uuid.UUID(found.uuid), claims, sort=sort, page=page, film=found
    )
    return await kit.render(
        request,
        "film.html",
        {
            "film": found,
            "playback": playback,
            "opinions": opinions,
            "scores": SCORES,
            "error": error,
            "draft": draft or {},
            "review_max": ugc.get_ugc(kit.services).settings.review_max_length,
        },
        status_code=status_code,
    )


def _score(form: FormData, name: str = "score") -> int:
    raw = str(form.get(name) or "").strip()
    if not raw.isdigit() or int(raw) not in SCORES:
        raise Refused(400, N_("Choose a score from 0 to 10."))
    return int(raw)


def _review_text(form: FormData, max_length: int) -> str:
    text = str(form.get("text") or "")
    length = len(text.replace("\r\n", "\n").strip())
    if not length:
        raise Refused(400, N_("Write a few words of the review first."))
    if length > max_length:
        raise Refused(
            400,
            N_("A review holds at most %(max)s characters; this one has %(length)s."),
            max=max_length,
            length=length,
        )
    return text


FormAction = Callable[[Viewer, FormData, ugc.UgcKit], Awaitable[str | None]]


def opinions_router(kit: WebKit) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=page_route(kit))

    async def write(
        request: Request, film_id: uuid.UUID, anchor: str, action: FormAction
    ) -> Response:
        """Run one form's change for the signed-in viewer and go back to the film page; a
        refusal re-renders the page with its reason."""
        film_url = f"/films/{film_id}"
        session = await kit.sessions.current(request)
        if session is None or session.claims is None:
            return kit.sign_in_redirect(request, film_url)
        viewer = await kit.signed_in(request)
        form = await kit.form(request)
        strings = kit.strings(request)
        draft = {"text": str(form.get("text") or ""), "score": str(form.get("score") or "")}
        if not await viewing.film_known(kit.queries(), film_id):
            raise content.NotFound("film")
        try:
            if not viewer.claims.has(WRITE):
                raise Refused(403, N_("This account may not write here."))
            kit_ugc = ugc.get_ugc(kit.services)
            await kit_ugc.check_write_rate(viewer.claims.subject)
            notice = await action(viewer, form, kit_ugc)
        except Refused as refused:
            message = strings.gettext(refused.message, **refused.values)
            return await film_page(kit, request, str(film_id), error=message, draft=draft,
                                   status_code=refused.status_code)  # fmt: skip
        except ugc.InvalidInput as error:
            message = strings.gettext(N_("That cannot be kept: %(reason)s."), reason=str(error))
            return await film_page(kit, request, str(film_id), error=message, draft=draft,
                                   status_code=400)  # fmt: skip
        except ugc.UgcError as error:
            status_code, text = next(
                (REFUSALS[kind] for kind in type(error).__mro__ if kind in REFUSALS),
                (400, N_("That cannot be done.")),
            )
            return await film_page(kit, request, str(film_id), error=strings.gettext(text),
                                   draft=draft, status_code=status_code)  # fmt: skip
        target = film_url + (f"?notice={notice}" if notice else "") + f"#{anchor}"
        return kit.redirect(request, target)

    async def film_review(
        store: DocumentStore, viewer: Viewer, film_id: uuid.UUID, review_id: uuid.UUID
    ) -> ugc.Review:
        """The review, if it is one of this film's the viewer may see."""
        found = await ugc.get_review(
            store, review_id, viewer=viewer.claims.subject,
            moderator=viewer.claims.has(MODERATE),
        )  # fmt: skip
        if found.film_id != film_id:
            raise ugc.ReviewNotFound(review_id)
        return found

    @router.post("/films/{film_id}/bookmark", name="web_bookmark")
    async def bookmark(request: Request, film_id: uuid.UUID) -> Response:
        async def act(viewer: Viewer, form: FormData, kit_ugc: ugc.UgcKit) -> str | None:
            if form.get("action") == "remove":
                await ugc.remove_bookmark(kit_ugc.store, viewer.claims.subject, film_id)
                return "bookmark_removed"
            await ugc.add_bookmark(kit_ugc.store, viewer.claims.subject, film_id)
            return "bookmarked"

        return await write(request, film_id, "your-take", act)

    @router.post("/films/{film_id}/rating", name="web_rating")
    async def rating(request: Request, film_id: uuid.UUID) -> Response:
        async def act(viewer: Viewer, form: FormData, kit_ugc: ugc.UgcKit) -> str | None:
            if form.get("action") == "remove":
                await ugc.remove_rating(kit_ugc.store, viewer.claims.subject, film_id)
                return "rating_removed"
            await ugc.rate_film(kit_ugc.store, viewer.claims.subject, film_id, _score(form))
            return "rated"

        return await write(request, film_id, "ratings", act)

    @router.post("/films/{film_id}/review", name="web_review")
    async def review(request: Request, film_id: uuid.UUID) -> Response:
        """Write the viewer's review of the film, or edit the one they wrote."""

        async def act(viewer: Viewer, form: FormData, kit_ugc: ugc.UgcKit) -> str | None:
            text = _review_text(form, kit_ugc.settings.review_max_length)
            score = _score(form)
            user = viewer.claims.subject
            mine = await ugc.my_review(kit_ugc.store, user, film_id)
            if mine is None:
                await ugc.write_review(
                    kit_ugc.store, kit_ugc.settings, user, film_id, text=text, score=score
                )
            else:
                await ugc.edit_review(
                    kit_ugc.store, kit_ugc.settings, user, mine.id, text=text, score=score
                )
            return "review_saved"

        return await write(request, film_id, "my-review", act)

    @router.post("/films/{film_id}/review/delete", name="web_review_delete")
    async def delete_review(request: Request, film_id: uuid.UUID) -> Response:
        async def act(viewer: Viewer, form: FormData, kit_ugc: ugc.UgcKit) -> str | None:
            mine = await ugc.my_review(kit_ugc.store, viewer.claims.subject, film_id)
            if mine is None:
                raise Refused(404, N_("You have no review of this film."))
            await ugc.delete_review(kit_ugc.store, viewer.claims.subject, mine.id)
            return "review_deleted"

        return await write(request, film_id, "my-review", act)

    @router.post("/films/{film_id}/reviews/{review_id}/vote", name="web_review_vote")
    async def vote(request: Request, film_id: uuid.UUID, review_id: uuid.UUID) -> Response:
        async def act(viewer: Viewer, form: FormData, kit_ugc: ugc.UgcKit) -> str | None:
            await film_review(kit_ugc.store, viewer, film_id, review_id)
            value = str(form.get("value") or "")
            if value == "withdraw":
                await ugc.withdraw_vote(kit_ugc.store, viewer.claims.subject, review_id)
            elif value in ("like", "dislike"):
                await ugc.vote_review(
                    kit_ugc.store, viewer.claims.subject, review_id, ugc.VoteValue(value)
                )
            else:
                raise Refused(400, N_("A vote is a like or a dislike."))
            return None

        return await write(request, film_id, f"review-{review_id}", act)

    async def moderate(
        request: Request, film_id: uuid.UUID, review_id: uuid.UUID, *, hidden: bool
    ) -> Response:
        async def act(viewer: Viewer, form: FormData, kit_ugc: ugc.UgcKit) -> str | None:
            if not viewer.claims.has(MODERATE):
                raise Refused(403, N_("Only moderators hide and restore reviews."))
            await film_review(kit_ugc.store, viewer, film_id, review_id)
            await ugc.set_review_hidden(
                kit_ugc.store, viewer.claims.subject, review_id, hidden=hidden
            )
            return "review_hidden" if hidden else "review_restored"

        return await write(request, film_id, f"review-{review_id}", act)

    @router.post("/films/{film_id}/reviews/{review_id}/hide", name="web_review_hide")
    async def hide(request: Request, film_id: uuid.UUID, review_id: uuid.UUID) -> Response:
        return await moderate(request, film_id, review_id, hidden=True)

    @router.post("/films/{film_id}/reviews/{review_id}/restore", name="web_review_restore")
    async def restore(request: Request, film_id: uuid.UUID, review_id: uuid.UUID) -> Response:
        return await moderate(request, film_id, review_id, hidden=False)

    return router


@dataclass
class AccountOpinions:
    """The account page's "my bookmarks" and "my reviews"."""

    bookmarks: list[content.FilmCard]
    bookmarks_pager: Pager
    reviews: list[tuple[ugc.Review, str | None]]
    """Each review with its film's title (None when the film left the catalog)."""
    reviews_pager: Pager


async def read_account_opinions(
    kit: WebKit, request: Request, user_id: uuid.UUID, *, bookmarks_page: int, reviews_page: int
) -> AccountOpinions:
    store = ugc.get_ugc(kit.services).store
    queries = kit.queries()
    marked, written = await asyncio.gather(
        ugc.list_bookmarks(
            store, user_id, limit=ACCOUNT_PAGE, offset=(bookmarks_page - 1) * ACCOUNT_PAGE
        ),
        ugc.user_reviews(
            store, user_id, limit=ACCOUNT_PAGE, offset=(reviews_page - 1) * ACCOUNT_PAGE
        ),
    )
    cards = await viewing.film_cards_by_id(queries, [str(b.film_id) for b in marked.items])
    titles = {
        card.uuid: card.title
        for card in await viewing.film_cards_by_id(
            queries, list(dict.fromkeys(str(r.film_id) for r in written.items))
        )
    }
    return AccountOpinions(
        bookmarks=cards,
        bookmarks_pager=Pager.of(
            request, bookmarks_page, ACCOUNT_PAGE, marked.total, key="bookmarks_page"
        ),
        reviews=[(r, titles.get(str(r.film_id))) for r in written.items],
        reviews_pager=Pager.of(
            request, reviews_page, ACCOUNT_PAGE, written.total, key="reviews_page"
        ),
    )
