"""Notify's API shapes."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from kinoteka.notify.models import AudienceKind, BroadcastStatus, Channel, Kind


def _printable(allowed: str) -> AfterValidator:
    """Refuse control characters (PostgreSQL cannot store NUL; none belongs in a message)."""

    def check(value: str) -> str:
        for char in value:
            if unicodedata.category(char) in ("Cc", "Cs") and char not in allowed:
                raise ValueError(f"control character U+{ord(char):04X} is not allowed")
        return value

    return AfterValidator(check)


def _plain_lines(value: str) -> str:
    """Line ends as `\n` (a browser's form sends `\r\n`), no spaces before them: a blank
    line separates paragraphs however the text was typed."""
    # Line by line: a pattern for the trailing spaces would take quadratic time on a long
    # run of spaces without a line end.
    return "\n".join(line.rstrip(" \t") for line in re.sub(r"\r\n?", "\n", value).split("\n"))


Line = Annotated[str, _printable("")]
Paragraphs = Annotated[str, _printable("\n\r\t"), AfterValidator(_plain_lines)]


class InboxItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: Kind
    title: str
    body: str
    link: str | None
    created: dt.datetime
    read_at: dt.datetime | None


class UnreadOut(BaseModel):
    unread: int


class PreferenceOut(BaseModel):
    kind: Kind
    channel: Channel
    enabled: bool
    locked: bool = Field(description="Security messages cannot be turned off.")


class PreferencesOut(BaseModel):
    locale: str
    items: list[PreferenceOut]


class PreferenceIn(BaseModel):
    kind: Kind
    channel: Channel
    enabled: bool


class PreferencesIn(BaseModel):
    locale: str | None = Field(default=None, pattern=r"^(en|ru)$")
    items: list[PreferenceIn] = Field(default_factory=list, max_length=50)


class AnnouncementIn(BaseModel):
    subject: Line = Field(min_length=1, max_length=200)
    body: Paragraphs = Field(min_length=1, max_length=20_000)


class PreviewIn(AnnouncementIn):
    locale: str = Field(default="en", pattern=r"^(en|ru)$")


class PreviewOut(BaseModel):
    subject: str
    text: str
    html: str


class AudienceIn(BaseModel):
    kind: AudienceKind = AudienceKind.EVERYONE
    value: Line | None = Field(
        default=None, max_length=100, description="The role name, or the genre id."
    )


class BroadcastIn(AnnouncementIn):
    audience: AudienceIn = AudienceIn()
    send_at: dt.datetime | None = Field(
        default=None, description="When to start (with a time zone); unset: now."
    )


class BroadcastOut(BaseModel):
    id: uuid.UUID
    subject: str
    body: str
    audience: AudienceKind
    audience_value: str | None
    status: BroadcastStatus
    send_at: dt.datetime
    created: dt.datetime
    finished_at: dt.datetime | None
    recipients: int
    progress: dict[str, int] = Field(
        default_factory=dict,
        description="Deliveries by `<channel>.<status>` (email.queued, email.sent, …).",
    )


class FailureOut(BaseModel):
    delivery_id: uuid.UUID
    channel: Channel
    kind: Kind
    email: str
    attempts: int
    error: str | None
    updated: dt.datetime
    broadcast_id: uuid.UUID | None


class DeadLetterOut(BaseModel):
    message_id: str
    topic: str
    attempts: int
    error: str
    failed_at: dt.datetime
