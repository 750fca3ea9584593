"""Media context: film videos become adaptive streams, posters, seek thumbnails and previews.

Public surface for other contexts:
- `kinoteka.media.processing`: the synchronous ffmpeg pipeline run inside workers:
  `probe`, `plan_ladder`, `render`, `make_artwork`, their results (`ProbeResult`,
  `LadderRung`, `Rendition`, `Artwork`) and errors (`MediaError`, `ProbeError`).
- The media service: `film_videos(session, film_ids)` -> `{film_id: FilmVideo}` (the
  playable video of each film: `duration`, `qualities`; for the search documents'
  `has_video`), and `film_video_panel(secret, subject, film_id)`, the admin film page's
  upload control. Uploads (tus), playback and video states are its HTTP API (`mount.py`);
  its Celery tasks are in `tasks.py`.
- `artwork_url_sql(alias, member)`: the public path of a version's poster or preview as an
  SQL expression over a `media.videos` row, for the search documents.
"""

from kinoteka.media.admin_panel import film_video_panel
from kinoteka.media.artwork_links import artwork_url_sql
from kinoteka.media.service import FilmVideo, film_videos

__all__ = ["FilmVideo", "artwork_url_sql", "film_video_panel", "film_videos"]
