"""Search: the documents the index holds and the catalog -> index sync.

- `documents.py`: what the documents hold, the index definitions (movies, genres, persons);
- `repository/`: every SQL statement of the context (bound parameters): the change queue,
  the safety net, the advisory lock, verification, and the set-based document queries;
- `sync.py`: `CatalogSync`, the thin orchestrator over `load.py` (full load, read ahead),
  `changes.py` (change-queue batches fed by triggers and woken by NOTIFY, the `modified`
  safety net), `follower.py`, `status.py` (status, verification) and `parts.py` (what they
  share); `state.py` keeps its checkpoint (PostgreSQL by default, or a YAML file);
  `backoff.py` retries through outages;
- `cli.py`: `kinoteka sync run [--once|--follow] [--state-file state.yaml]`, `sync rebuild`,
  `sync status`, `sync verify`; `mount.py`: the indexes made sure of at start-up and the
  follower `kinoteka up` runs in the background.

The sanctioned exceptions to "contexts never read another's tables": search reads the
catalog's `content.*` tables (films, genres, persons, credits) to render its documents in
PostgreSQL, and its migration installs statement triggers on them that feed `search.change`.
Documents join five tables set-wise per page of thousands of films; going through catalog
service functions would cost a round trip and a Python object per row and lose the
transactional capture (a change and its queue row commit together). It only reads, and the
poster path comes from the catalog's public `poster_url_sql()`. For the same two reasons it
reads `media.videos` (a film's playable video: `has_video`, `duration`, `qualities`, chosen
as `kinoteka.media.film_videos` chooses it) and triggers on that table feed the same queue.

Readers (the content API) use the port in `kinoteka.infra.search` through `services.search`,
and `await services.search.version()` to tell whether a cached answer is still current.

Public surface for other contexts: `IndexNames` (the names of the movies, genres and persons
indexes, in `settings.search.indexes`); `open_search_index(url, settings)`, the search port
knowing those indexes (media's `indexing` task reads a film's document through it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kinoteka.search.settings import IndexNames

if TYPE_CHECKING:
    from kinoteka.infra.search import SearchIndex
    from kinoteka.search.settings import SearchSettings

__all__ = ["IndexNames", "open_search_index"]


def open_search_index(search_url: str, settings: SearchSettings) -> SearchIndex:
    """The search port at `search_url` with the movies, genres and persons definitions (to
    read them; the sync is the one writer). Close it when done."""
    from kinoteka.search.service import open_index

    return open_index(search_url, settings)
