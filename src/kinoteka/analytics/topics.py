"""Where each kind of event goes: its bus topic (as the seed names them) and ClickHouse table."""

from __future__ import annotations

from enum import StrEnum


class PlayerEventType(StrEnum):
    PLAY = "play"
    PAUSE = "pause"
    SEEK = "seek"
    QUALITY_CHANGE = "quality_change"
    PROGRESS = "progress"
    FULL_VIEW = "full_view"
    ERROR = "error"


class PageKind(StrEnum):
    """The content API's seven endpoints whose views are counted."""

    FILMS = "get_films"
    FILM_BY_ID = "get_film_by_id"
    FILM_SEARCH = "search_films_by_keyword"
    GENRES = "get_genres"
    GENRE_BY_ID = "get_genre_by_id"
    PERSON_BY_ID = "get_person_by_id"
    PERSON_SEARCH = "search_persons_by_keyword"


PLAYER_TOPICS: dict[PlayerEventType, str] = {
    PlayerEventType.PAUSE: "tracking.clicks_on_video.pauses",
    PlayerEventType.FULL_VIEW: "tracking.clicks_on_video.full_views",
    PlayerEventType.QUALITY_CHANGE: "tracking.clicks_on_video.quality_changes",
    PlayerEventType.PLAY: "tracking.clicks_on_video.plays",
    PlayerEventType.SEEK: "tracking.clicks_on_video.seeks",
    PlayerEventType.PROGRESS: "tracking.clicks_on_video.progress",
    PlayerEventType.ERROR: "tracking.clicks_on_video.errors",
}

PAGE_TOPICS: dict[PageKind, str] = {kind: f"tracking.page_views.{kind.value}" for kind in PageKind}

# The seed's ten tables, plus `player_events` for the player's other kinds (play, seek,
# progress, error), which the seed did not track.
PLAYER_TABLES: dict[PlayerEventType, str] = {
    PlayerEventType.PAUSE: "clicks_on_video_pauses",
    PlayerEventType.FULL_VIEW: "clicks_on_video_full_views",
    PlayerEventType.QUALITY_CHANGE: "video_quality_change_clicks",
    PlayerEventType.PLAY: "player_events",
    PlayerEventType.SEEK: "player_events",
    PlayerEventType.PROGRESS: "player_events",
    PlayerEventType.ERROR: "player_events",
}

PAGE_TABLES: dict[PageKind, str] = {kind: f"{kind.value}_page_views" for kind in PageKind}

TOPIC_TABLES: dict[str, str] = {
    **{PLAYER_TOPICS[kind]: table for kind, table in PLAYER_TABLES.items()},
    **{PAGE_TOPICS[kind]: table for kind, table in PAGE_TABLES.items()},
}

ALL_TOPICS: tuple[str, ...] = tuple(TOPIC_TABLES)
