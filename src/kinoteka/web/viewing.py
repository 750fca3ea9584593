"""Where a viewer stopped: the player's heartbeats kept as ugc's watch progress, read back
for the player's resume position and the home page's "continue watching" row.

ugc's progress (last write wins by the player's clock) is the one read model of it: the
analytics collector publishes the heartbeats for the dashboards and hands the accepted ones
here (`heartbeat_sink`), so both see the same events and no second copy is kept.
"""

from __future__ import annotations

import uuid

import structlog

from kinoteka import analytics, content, ugc
from kinoteka.services import Services

log = structlog.get_logger(__name__)


async def film_known(queries: content.ContentQueries, film_id: uuid.UUID) -> bool:
    """Whether the catalog holds the film, as the pages know it: through the content index."""
    try:
        await queries.get_film_view(str(film_id))
    except content.NotFound:
        return False
    return True


def heartbeat_sink(
    services: Services, queries: content.ContentQueries, user_id: uuid.UUID
) -> analytics.HeartbeatSink:
    """Keeps a batch's accepted `progress` events as the viewer's watch progress: the latest
    per film (by the player's clock), for films the catalog holds."""

    async def keep(beats: list[analytics.Heartbeat]) -> None:
        kit = ugc.get_ugc(services)
        latest: dict[uuid.UUID, analytics.Heartbeat] = {}
        for beat in beats:
            if beat.film_id not in latest or beat.at >= latest[beat.film_id].at:
                latest[beat.film_id] = beat
        for film_id, beat in latest.items():
            if not await film_known(queries, film_id):
                log.info("web.progress_unknown_film", film_id=str(film_id))
                continue
            duration = beat.duration if beat.duration else None
            try:
                await ugc.save_progress(
                    kit.store,
                    user_id,
                    film_id,
                    position_seconds=min(beat.position, duration or beat.position),
                    duration_seconds=duration,
                    client_time=beat.at,
                    finished_ratio=kit.settings.finished_ratio,
                )
            except ugc.InvalidInput as error:  # the player's clock, mostly: logged, not fatal
                log.info("web.progress_refused", film_id=str(film_id), reason=str(error))

    return keep


async def resume_position(services: Services, user_id: uuid.UUID, film_id: uuid.UUID) -> float:
    """Where the player starts: the saved position, or 0 when none or the film was finished."""
    try:
        found = await ugc.film_progress(ugc.get_ugc(services).store, user_id, film_id)
    except ugc.ProgressNotFound:
        return 0.0
    return 0.0 if found.finished else found.position_seconds


async def continue_watching_cards(
    services: Services, queries: content.ContentQueries, user_id: uuid.UUID, *, limit: int
) -> list[content.FilmCard]:
    """The films the viewer started and has not finished, latest watched first, as cards."""
    started = await ugc.continue_watching(ugc.get_ugc(services).store, user_id, limit=limit)
    return await film_cards_by_id(queries, [str(item.film_id) for item in started])


async def film_cards_by_id(
    queries: content.ContentQueries, film_ids: list[str]
) -> list[content.FilmCard]:
    """Cards of the films, in the order given; films gone from the index are left out."""
    cards: list[content.FilmCard] = []
    for film_id in film_ids:
        try:
            view = await queries.get_film_view(film_id)
        except content.NotFound:
            continue
        cards.append(
            content.FilmCard(
                uuid=view.uuid,
                title=view.title,
                imdb_rating=view.imdb_rating,
                poster_url=view.poster_url,
                video_poster_url=view.video_poster_url,
                genres=[g.name for g in view.genre],
            )
        )
    return cards
