"""Media context: film videos become adaptive streams, posters, seek thumbnails and previews.

Public surface for other contexts:
- `kinoteka.media.processing`: the synchronous ffmpeg pipeline run inside workers:
  `probe`, `plan_ladder`, `render`, `make_artwork`, their results (`ProbeResult`,
  `LadderRung`, `Rendition`, `Artwork`) and errors (`MediaError`, `ProbeError`).
- The media service (uploads, video statuses, tasks, playback) names its own
  functions here as it lands.
"""
