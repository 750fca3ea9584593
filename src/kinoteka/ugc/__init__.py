"""User content: bookmarks, 0-10 ratings with per-film summaries, reviews with votes and
moderation, watch progress; stored through the document-store port (PostgreSQL schema `ugc`
by default, MongoDB with `KINOTEKA_UGC__STORE_URL=mongodb://…`).

This package is ugc's public surface; other contexts (the web pages) import only from
`kinoteka.ugc`. Every use case takes the store, `get_ugc(services).store` (and `.settings`
where text is checked), and the viewer's account id:

- Bookmarks: `add_bookmark`, `remove_bookmark`, `is_bookmarked`, `list_bookmarks` (newest
  first, paged).
- Ratings: `rate_film`, `my_rating`, `remove_rating`, `rating_summary` (average, count,
  distribution, visible review count of a film).
- Reviews: `write_review`, `edit_review`, `delete_review`, `get_review`, `my_review`,
  `film_reviews` (`ReviewSort.NEWEST` / `MOST_LIKED`; `include_hidden` for moderators),
  `user_reviews` (the author's, hidden included), `vote_review`, `withdraw_vote`, `my_votes`,
  `set_review_hidden` (moderators).
- Write rate: `get_ugc(services).check_write_rate(user_id)` (`TooManyWrites` past
  `KINOTEKA_UGC__WRITE_RATE`), for front ends that write on a viewer's behalf.
- Progress: `save_progress` (last write by client time wins), `film_progress`,
  `continue_watching`.
- Audiences (for announcements): `accounts_engaged_with_genre(session, genre_id, after=,
  limit=)`, the accounts that bookmarked or rated a film of a genre, in id order;
  `genre_audience_available(settings)`, whether the store is the PostgreSQL one it reads.
- Errors, all `UgcError`: `FilmNotFound`, `ReviewNotFound`, `RatingNotFound`,
  `ProgressNotFound`, `ReviewExists`, `NotAuthor`, `InvalidInput`, `TooManyWrites`; the
  message is safe to show.

Check that a film exists before writing about it (`kinoteka.catalog.film_exists`); the API
does. Names are resolved on first use, so importing this package loads nothing else.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kinoteka.ugc.accounts import forget_user
    from kinoteka.ugc.audiences import accounts_engaged_with_genre, genre_audience_available
    from kinoteka.ugc.errors import (
        FilmNotFound,
        InvalidInput,
        NotAuthor,
        ProgressNotFound,
        RatingNotFound,
        ReviewExists,
        ReviewNotFound,
        TooManyWrites,
        UgcError,
    )
    from kinoteka.ugc.kit import UgcKit, get_ugc
    from kinoteka.ugc.reviews import (
        delete_review,
        edit_review,
        film_reviews,
        get_review,
        my_review,
        my_votes,
        set_review_hidden,
        user_reviews,
        vote_review,
        withdraw_vote,
        write_review,
    )
    from kinoteka.ugc.schemas import (
        Bookmark,
        BookmarkPage,
        Progress,
        ProgressWrite,
        Rating,
        RatingSummary,
        Review,
        ReviewPage,
        ReviewSort,
        VoteValue,
    )
    from kinoteka.ugc.service import (
        add_bookmark,
        continue_watching,
        film_progress,
        is_bookmarked,
        list_bookmarks,
        my_rating,
        rate_film,
        rating_summary,
        remove_bookmark,
        remove_rating,
        save_progress,
    )

_MODULES = {
    "accounts": ["forget_user"],
    "audiences": ["accounts_engaged_with_genre", "genre_audience_available"],
    "errors": [
        "FilmNotFound", "InvalidInput", "NotAuthor", "ProgressNotFound", "RatingNotFound",
        "ReviewExists", "ReviewNotFound", "TooManyWrites", "UgcError",
    ],
    "kit": ["UgcKit", "get_ugc"],
    "reviews": [
        "delete_review", "edit_review", "film_reviews", "get_review", "my_review", "my_votes",
        "set_review_hidden", "user_reviews", "vote_review", "withdraw_vote", "write_review",
    ],
    "schemas": [
        "Bookmark", "BookmarkPage", "Progress", "ProgressWrite", "Rating", "RatingSummary",
        "Review", "ReviewPage", "ReviewSort", "VoteValue",
    ],
    "service": [
        "add_bookmark", "continue_watching", "film_progress", "is_bookmarked", "list_bookmarks",
        "my_rating",
        "rate_film", "rating_summary", "remove_bookmark", "remove_rating", "save_progress",
    ],
}  # fmt: skip
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "Bookmark",
    "BookmarkPage",
    "FilmNotFound",
    "InvalidInput",
    "NotAuthor",
    "Progress",
    "ProgressNotFound",
    "ProgressWrite",
    "Rating",
    "RatingNotFound",
    "RatingSummary",
    "Review",
    "ReviewExists",
    "ReviewNotFound",
    "ReviewPage",
    "ReviewSort",
    "TooManyWrites",
    "UgcError",
    "UgcKit",
    "VoteValue",
    "accounts_engaged_with_genre",
    "add_bookmark",
    "continue_watching",
    "delete_review",
    "edit_review",
    "film_progress",
    "film_reviews",
    "forget_user",
    "genre_audience_available",
    "get_review",
    "get_ugc",
    "is_bookmarked",
    "list_bookmarks",
    "my_rating",
    "my_review",
    "my_votes",
    "rate_film",
    "rating_summary",
    "remove_bookmark",
    "remove_rating",
    "save_progress",
    "set_review_hidden",
    "user_reviews",
    "vote_review",
    "withdraw_vote",
    "write_review",
]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
