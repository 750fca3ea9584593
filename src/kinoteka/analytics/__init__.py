"""Activity analytics: player events and page views -> bus -> ClickHouse, and dashboards.

Public surface for other contexts (nothing else is meant to be imported):
- `collect_player_events(session, bus, user_id, body, max_events=)`: the collector's use case,
  for a front end that takes events on its own route (the web pages): checks the batch event
  by event, keeps the refused ones with their reason, publishes the rest; returns a
  `BatchAnswer`; raises `BatchTooLarge`, `BusUnavailable`. Its `on_progress=` (a
  `HeartbeatSink`) receives the accepted `progress` events as `Heartbeat`s: "continue
  watching" and the resume position are ugc's watch progress (`kinoteka.ugc`), which the web
  pages feed from there.
- `forget_account(session, user_id)`: removes an account's refused events.

Event schemas and topics are documented in `kinoteka.analytics.schemas`.
Names are resolved on first use, so importing this package loads nothing else.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kinoteka.analytics.collector import (
        BatchTooLarge,
        BusUnavailable,
        Heartbeat,
        HeartbeatSink,
    )
    from kinoteka.analytics.collector import collect as collect_player_events
    from kinoteka.analytics.repository import forget_account
    from kinoteka.analytics.schemas import BatchAnswer

_EXPORTS: dict[str, tuple[str, str]] = {
    "BatchAnswer": ("schemas", "BatchAnswer"),
    "BatchTooLarge": ("collector", "BatchTooLarge"),
    "BusUnavailable": ("collector", "BusUnavailable"),
    "Heartbeat": ("collector", "Heartbeat"),
    "HeartbeatSink": ("collector", "HeartbeatSink"),
    "collect_player_events": ("collector", "collect"),
    "forget_account": ("repository", "forget_account"),
}

__all__ = [
    "BatchAnswer",
    "BatchTooLarge",
    "BusUnavailable",
    "Heartbeat",
    "HeartbeatSink",
    "collect_player_events",
    "forget_account",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value
    return value
