"""The dashboards' figures, read from ClickHouse, and their charts drawn as SVG on the server.

Every query reads its table with FINAL, so an event loaded twice counts once even before
ClickHouse merges the duplicates away. Times are UTC.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from html import escape
from typing import Any

from pydantic import BaseModel

from kinoteka.infra.analytics import AnalyticsStore

CHARTS = (
    "views_per_day",
    "top_films",
    "completion",
    "pause_positions",
    "quality_switches",
    "hours_of_day",
)
PAUSE_BUCKET_MINUTES = 5


class Bar(BaseModel):
    label: str
    value: float


class TopFilm(BaseModel):
    film_id: uuid.UUID
    viewers: int
    plays: int
    """Playbacks: resumes after a pause belong to the playback they resume."""


class Dashboard(BaseModel):
    days: int
    views_per_day: list[Bar]
    """Playbacks started per day (a playback's resumes are not new ones)."""
    top_films: list[TopFilm]
    """Films by distinct viewers who started them."""
    started: int
    finished: int
    completion_rate: float
    """Share of (viewer, film) pairs started that reached a full view."""
    pause_positions: list[Bar]
    """Pauses by where in the film they happened, in 5-minute buckets (the video ending is
    not a pause)."""
    quality_switches: list[Bar]
    """Quality switches by the quality switched to (the rendition a playback starts at is
    not a switch)."""
    hours_of_day: list[Bar]
    """Playbacks started by hour of the day (UTC), all 24 hours."""


def _since(days: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


_WINDOW = "client_at >= {since:DateTime64(3)}"
# A playback is one (viewer, film, playback_id): the player sends `play` again on every resume
# after a pause, under the same playback id, so plays are counted by playback, each at its
# first play. An event sent without a playback id (older clients) is a playback of its own.
_PLAYBACKS = (
    "FROM (SELECT film_id, user_id, ifNull(playback_id, event_id) AS playback,"
    " min(client_at) AS started FROM DB.player_events FINAL WHERE type = 'play' AND "
    + _WINDOW
    + " GROUP BY film_id, user_id, playback)"
)
# A pause this close to the film's end (its longest duration a player reported) is the video
# ending, which pauses it, not a viewer pausing.
END_SECONDS = 1.0
_DURATIONS = (
    "SELECT film_id, ifNull(max(duration), 0) AS length FROM DB.player_events FINAL"
    " WHERE type = 'progress' AND duration IS NOT NULL AND " + _WINDOW + " GROUP BY film_id"
)
QUERIES = {
    "per_day": "SELECT toDate(started) AS day, count() "
    + _PLAYBACKS
    + " GROUP BY day ORDER BY day",
    "top": "SELECT film_id, uniqExact(user_id) AS viewers, count() AS plays "
    + _PLAYBACKS
    + " GROUP BY film_id ORDER BY viewers DESC, plays DESC, film_id LIMIT 10",
    "started": "SELECT uniqExact(user_id, film_id) " + _PLAYBACKS,
    "finished": "SELECT uniqExact(user_id, film_id) FROM DB.clicks_on_video_full_views FINAL"
    " WHERE " + _WINDOW,
    "pauses": f"SELECT intDiv(toUInt64(p.position), {PAUSE_BUCKET_MINUTES * 60}) AS bucket,"
    " count() FROM DB.clicks_on_video_pauses AS p FINAL"
    f" LEFT JOIN ({_DURATIONS}) AS d ON p.film_id = d.film_id WHERE p."
    + _WINDOW
    + f" AND NOT (d.length > 0 AND p.position >= d.length - {END_SECONDS})"
    " GROUP BY bucket ORDER BY bucket",
    # A change without `from_quality` is the rendition a playback started at, not a switch.
    "qualities": "SELECT to_quality, count() AS switches FROM DB.video_quality_change_clicks"
    " FINAL WHERE from_quality != '' AND "
    + _WINDOW
    + " GROUP BY to_quality ORDER BY switches DESC, to_quality",
    "hours": "SELECT toHour(started) AS hour, count() " + _PLAYBACKS + " GROUP BY hour",
}


async def load_dashboard(store: AnalyticsStore, database: str, *, days: int = 30) -> Dashboard:
    """Every chart's figures over the last `days` (`database` is a checked identifier)."""
    since = {"since": _since(days).replace(tzinfo=None)}

    async def rows(name: str) -> list[tuple[Any, ...]]:
        return await store.query(QUERIES[name].replace("DB.", f"{database}."), since)

    per_day = await rows("per_day")
    top = await rows("top")
    started_rows = await rows("started")
    finished_rows = await rows("finished")
    pauses = await rows("pauses")
    qualities = await rows("qualities")
    hours = dict(await rows("hours"))
    started = int(started_rows[0][0]) if started_rows else 0
    finished = int(finished_rows[0][0]) if finished_rows else 0
    return Dashboard(
        days=days,
        views_per_day=[Bar(label=day.isoformat(), value=n) for day, n in per_day],
        top_films=[TopFilm(film_id=f, viewers=v, plays=p) for f, v, p in top],
        started=started,
        finished=finished,
        completion_rate=round(min(finished / started, 1.0), 4) if started else 0.0,
        pause_positions=[
            Bar(label=f"{b * PAUSE_BUCKET_MINUTES}-{(b + 1) * PAUSE_BUCKET_MINUTES} min", value=n)
            for b, n in pauses
        ],
        quality_switches=[Bar(label=str(q), value=n) for q, n in qualities],
        hours_of_day=[Bar(label=f"{h:02d}", value=hours.get(h, 0)) for h in range(24)],
    )


TITLES = {
    "views_per_day": "Playbacks started per day",
    "top_films": "Top films by viewers",
    "completion": "Completion rate",
    "pause_positions": "Where viewers pause",
    "quality_switches": "Quality switches (to)",
    "hours_of_day": "Playbacks by hour of day (UTC)",
}


TITLE_LABEL_CHARS = 14


def _film_label(film_id: uuid.UUID, titles: Mapping[uuid.UUID, str]) -> str:
    title = titles.get(film_id)
    if title is None:
        return str(film_id)[:8]
    return title if len(title) <= TITLE_LABEL_CHARS else title[: TITLE_LABEL_CHARS - 1] + "…"


def bars_of(
    board: Dashboard, chart: str, titles: Mapping[uuid.UUID, str] | None = None
) -> list[Bar]:
    if chart == "views_per_day":
        return board.views_per_day
    if chart == "top_films":
        known = titles or {}
        return [Bar(label=_film_label(f.film_id, known), value=f.viewers) for f in board.top_films]
    if chart == "completion":
        return [
            Bar(label="started", value=board.started),
            Bar(label="finished", value=board.finished),
        ]
    if chart == "pause_positions":
        return board.pause_positions
    if chart == "quality_switches":
        return board.quality_switches
    if chart == "hours_of_day":
        return board.hours_of_day
    raise KeyError(chart)


def render_svg(
    board: Dashboard,
    chart: str,
    *,
    width: int = 640,
    height: int = 280,
    titles: Mapping[uuid.UUID, str] | None = None,
) -> str:
    """A bar chart: one bar per label, its value on top, the title above; text escaped.
    `titles` names the top films (by id, else the id's first characters)."""
    bars = bars_of(board, chart, titles)
    title = TITLES[chart]
    if chart == "completion":
        title += f": {board.completion_rate:.0%}"
    top, bottom, left, right = 36, 48, 16, 16
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((bar.value for bar in bars), default=0) or 1
    slot = plot_w / max(len(bars), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#888"/>',
    ]
    if not bars:
        parts.append(f'<text x="{left}" y="{top + plot_h / 2}" fill="#666">No events yet</text>')
    for index, bar in enumerate(bars):
        h = plot_h * bar.value / peak
        x = left + index * slot + slot * 0.1
        w = slot * 0.8
        y = top + plot_h - h
        value = f"{bar.value:g}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#3b6ea5">'
            f"<title>{escape(bar.label)}: {value}</title></rect>"
        )
        if len(bars) <= 31:
            cx = x + w / 2
            parts.append(f'<text x="{cx:.1f}" y="{y - 3:.1f}" text-anchor="middle">{value}</text>')
            parts.append(
                f'<text x="{cx:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                f'font-size="9">{escape(bar.label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
