"""Notification port: what account flows hand their messages to (password resets, …).

Every adapter implements `Notifier.send(message)`. `from_url()` picks it by scheme; today the
one adapter is `log://` (`LogNotifier`): it logs each message (without its body, which may
carry a one-time token, unless `log://?body=true` for local development) and keeps the last
messages in memory so a process can read what it sent.
"""

from __future__ import annotations

from kinoteka.notify.port import (
    Message,
    Notifier,
)

__all__ = [
    "Message",
    "Notifier",
    "from_url",
]


def from_url(url: str) -> Notifier:
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url)
    if parts.scheme == "log":
        from kinoteka.notify.log import LogNotifier

        query = parse_qs(parts.query)
        include_body = query.get("body", ["false"])[0].lower() in {"1", "true", "yes"}
        return LogNotifier(include_body=include_body)
    raise ValueError(f"unsupported notification URL scheme {parts.scheme!r}; known: log://")
