"""Activity analytics: player events and page views -> bus -> ClickHouse, and dashboards.

Public surface for other contexts (nothing else is meant to be imported):
- `collect_player_events(session, bus, user_id, body, max_events=)`: the collector's use case,
  for a front end that takes events on its own route (the web pages): checks the batch event
  by event, keeps the refused ones with their reason, publishes the rest; returns a
  `BatchAnswer`; raises `BatchTooLarge`, `BusUnavailable`.
- `resume_position(session, user_id, film_id)` and `continue_watching(session, user_id,
  limit=)` ("continue watching": each account's latest `progress` per film, a read model in
  PostgreSQL kept by the collector), with `ResumePoint`.
- `forget_account(session, user_id)`: removes an account's progress and refused events.

Event schemas and topics are documented in `kinoteka.analytics.schemas`.
Names are resolved on first use, so importing this package loads nothing else.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kinoteka.analytics.collector import BatchTooLarge, BusUnavailable
    from kinoteka.analytics.collector import collect as collect_player_events
    from kinoteka.analytics.progress import ResumePoint, continue_watching, resume_position
    from kinoteka.analytics.repository import forget_account
    from kinoteka.analytics.schemas import BatchAnswer

_EXPORTS: dict[str, tuple[str, str]] = {
    "BatchAnswer": ("schemas", "BatchAnswer"),
    "BatchTooLarge": ("collector", "BatchTooLarge"),
    "BusUnavailable": ("collector", "BusUnavailable"),
    "ResumePoint": ("progress", "ResumePoint"),
    "collect_player_events": ("collector", "collect"),
    "continue_watching": ("progress", "continue_watching"),
    "forget_account": ("repository", "forget_account"),
    "resume_position": ("progress", "resume_position"),
}

__all__ = [
    "BatchAnswer",
    "BatchTooLarge",
    "BusUnavailable",
    "ResumePoint",
    "collect_player_events",
    "continue_watching",
    "forget_account",
    "resume_position",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value
    return value
