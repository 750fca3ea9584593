"""Notifications: account messages and editors' announcements, by email and in an in-app inbox.

Auth's account events (created, password reset requested, password changed, new-device
sign-in) reach this context through the broker (`kinoteka.infra.broker`); it renders them
from Jinja2 templates (English or Russian, by the account's locale) and delivers them by SMTP
and to the inbox, each notification once per idempotency key. Editors holding `notify.send`
compose announcements in the back office (`/admin/notify`, `notify/admin.py`) or the admin
API, and watch them fan out; email goes out in batches (`notify/sending.py`).

Public surface for other contexts: `NotifyKit` and `build_notify_kit` (what the composition
root opens), `run_worker(kit)` (the consumers and loops `kinoteka up` runs), `Kind`, and the
inbox for front ends that authenticate their own way (the web pages' cookie):
`list_inbox(session, user_id, limit=)` -> `InboxItemOut`s, `unread_count(session, user_id)`,
`mark_read(session, user_id, item_id | None)` (raises `InboxItemNotFound`) and
`unread_counts(kit, user_id)` (an async iterator: the count now and on each change); the
account's mail language, `mail_locale(session, user_id, default)` and
`set_mail_locale(session, user_id, locale)` (in the caller's transaction: set with a
sign-up, it holds for the welcome mail).
Names are resolved on first use, so importing this package loads nothing else.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kinoteka.notify.errors import InboxItemNotFound
    from kinoteka.notify.inbox import list_inbox, mark_read, unread_count, unread_counts
    from kinoteka.notify.kit import NotifyKit, build_notify_kit
    from kinoteka.notify.models import Kind
    from kinoteka.notify.recipients import mail_locale, set_mail_locale
    from kinoteka.notify.schemas import InboxItemOut
    from kinoteka.notify.worker import run_worker

_EXPORTS: dict[str, tuple[str, str]] = {
    "InboxItemNotFound": ("errors", "InboxItemNotFound"),
    "InboxItemOut": ("schemas", "InboxItemOut"),
    "Kind": ("models", "Kind"),
    "NotifyKit": ("kit", "NotifyKit"),
    "build_notify_kit": ("kit", "build_notify_kit"),
    "list_inbox": ("inbox", "list_inbox"),
    "mail_locale": ("recipients", "mail_locale"),
    "mark_read": ("inbox", "mark_read"),
    "run_worker": ("worker", "run_worker"),
    "set_mail_locale": ("recipients", "set_mail_locale"),
    "unread_count": ("inbox", "unread_count"),
    "unread_counts": ("inbox", "unread_counts"),
}

__all__ = [
    "InboxItemNotFound",
    "InboxItemOut",
    "Kind",
    "NotifyKit",
    "build_notify_kit",
    "list_inbox",
    "mail_locale",
    "mark_read",
    "run_worker",
    "set_mail_locale",
    "unread_count",
    "unread_counts",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value
    return value
