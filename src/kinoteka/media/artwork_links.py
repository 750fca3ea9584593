"""The public paths of a version's poster and animated preview (served by `playback.py`).

Apart from the rest of the media context, with no import of its own, so the search documents'
query can build them without loading the media service.
"""

from __future__ import annotations

ART_ROUTE = "/media/art"


def artwork_url_sql(alias: str, *path: str) -> str:
    """The public path of a version's picture as an SQL expression over a `media.videos` row
    `alias` (NULL until its artwork is made): `path` leads into `outputs.artwork`, as
    `("poster", "list.webp")` or `("preview_webp",)`. For the search documents, which render
    in the database; `alias` and `path` are the caller's constants."""
    *parents, last = ("artwork", *path)
    member = "".join(f" -> '{name}'" for name in parents) + f" ->> '{last}'"
    return (
        f"('{ART_ROUTE}/' || {alias}.id::text || '/v' || {alias}.current_version::text || '/'"
        f" || ({alias}.outputs{member}))"
    )
