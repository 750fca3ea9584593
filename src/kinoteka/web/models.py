"""The web context's tables (schema `web`): player events until the activity context takes them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from kinoteka.infra.db.base import Base

SCHEMA = "web"

player_event = sa.Table(
    "player_event",
    Base.metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("user_id", UUID(as_uuid=True), nullable=False),
    sa.Column("film_id", UUID(as_uuid=True), nullable=False),
    sa.Column("playback_id", UUID(as_uuid=True), nullable=False),
    sa.Column("schema_version", sa.SmallInteger, nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("position", sa.Float, nullable=False),
    sa.Column("client_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column(
        "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    ),
    sa.Column("payload", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Index("ix_player_event_resume", "user_id", "film_id", "type", "id"),
    schema=SCHEMA,
)
