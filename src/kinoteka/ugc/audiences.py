"""Who engaged with what, for other contexts that address viewers (notify's announcements).

`accounts_engaged_with_genre(session, genre_id, after=, limit=)`: the accounts that bookmarked
or rated a film of the genre, in id order after `after` (keyset paging), read set-wise in
PostgreSQL: ugc's `bookmarks` and `ratings` collections joined with the catalog's
`content.genre_film_work` (a sanctioned cross-context read, see docs/architecture.md). It
reads the PostgreSQL document store, the default on both footprints; with the MongoDB store
(`KINOTEKA_UGC__STORE_URL=mongodb://…`) the documents are elsewhere and
`genre_audience_available(settings)` says so.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.ugc.documents import BOOKMARKS, RATINGS
from kinoteka.ugc.settings import UgcSettings

_ENGAGED_WITH_GENRE = text(f"""
SELECT engaged.user_id FROM (
    SELECT CAST(d.doc ->> 'user_id' AS uuid) AS user_id
    FROM ugc.{BOOKMARKS} d
    JOIN content.genre_film_work g ON g.film_work_id = CAST(d.doc ->> 'film_id' AS uuid)
    WHERE g.genre_id = :genre
    UNION
    SELECT CAST(d.doc ->> 'user_id' AS uuid)
    FROM ugc.{RATINGS} d
    JOIN content.genre_film_work g ON g.film_work_id = CAST(d.doc ->> 'film_id' AS uuid)
    WHERE g.genre_id = :genre
) AS engaged
WHERE CAST(:after AS uuid) IS NULL OR engaged.user_id > CAST(:after AS uuid)
ORDER BY engaged.user_id
LIMIT :limit
""")  # noqa: S608 - the collection names are constants of ugc


def genre_audience_available(settings: UgcSettings) -> bool:
    """Whether ugc's documents are in PostgreSQL, where the genre audience is read."""
    url = settings.store_url
    return url is None or url.split("://", 1)[0].lower().startswith("postgres")


async def accounts_engaged_with_genre(
    session: AsyncSession, genre_id: uuid.UUID, *, after: uuid.UUID | None = None,
    limit: int = 1000,
) -> list[uuid.UUID]:  # fmt: skip
    """Accounts that bookmarked or rated a film of `genre_id`, each once, in id order."""
    rows = await session.scalars(
        _ENGAGED_WITH_GENRE, {"genre": genre_id, "after": after, "limit": limit}
    )
    return list(rows)
