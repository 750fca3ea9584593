"""Search: the documents the index holds and the catalog -> index sync.

- `documents.py`: index definitions (movies, genres, persons) and set-based document queries;
- `sync.py`: full load, change-queue batches (fed by triggers, woken by NOTIFY), the
  `modified` safety net, rebuild, status and verification; `state.py` keeps its checkpoint
  (PostgreSQL by default, or a YAML file); `backoff.py` retries through outages;
- `cli.py`: `kinoteka sync run [--once|--follow] [--state-file state.yaml]`, `sync rebuild`,
  `sync status`, `sync verify`; `mount.py`: the indexes made sure of at start-up and the
  follower `kinoteka up` runs in the background.

Readers (the content API) use the port in `kinoteka.infra.search` through `services.search`,
and `await services.search.version()` to tell whether a cached answer is still current.

Public surface for other contexts: `IndexNames` (the names of the movies, genres and persons
indexes, in `settings.search.indexes`).
"""

from kinoteka.search.settings import IndexNames

__all__ = ["IndexNames"]
