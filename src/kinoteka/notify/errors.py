"""Notify's domain errors, mapped to HTTP once in `api.py`."""

from __future__ import annotations


class NotifyError(Exception):
    """Base of the errors a caller can fix."""


class InboxItemNotFound(NotifyError):
    pass


class BroadcastNotFound(NotifyError):
    pass


class SecurityMessages(NotifyError):
    """Security messages (password, sign-in, welcome) cannot be turned off."""


class InvalidUnsubscribeLink(NotifyError):
    pass


class AudienceUnavailable(NotifyError):
    """The audience cannot be selected (unknown role, or its source is not there yet)."""


class BroadcastNotEditable(NotifyError):
    """The broadcast already started or finished."""
