"""The sync's checkpoint and where it is kept: PostgreSQL (`search.sync_state`) or a YAML file.

A checkpoint is saved only after the index acknowledged the batch it describes, so a restart
resumes from work the index is known to hold.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

STATE_NAME = "catalog"


class SyncCheckpoint(BaseModel):
    """Where the sync stands."""

    index_url: str | None = None
    """The index this checkpoint describes; another index means: start over."""
    loaded_at: dt.datetime | None = None
    """Start of the first full load (the queue was emptied then); None: not begun."""
    load_after: dict[str, str | None] = Field(default_factory=dict)
    """Full load progress: per document kind, the last id the index acknowledged."""
    load_pending: dict[str, str] = Field(default_factory=dict)
    """Full load: per kind, the last id of a commit under way (a resumed load replaces the
    documents up to it: that commit may have written them before the checkpoint moved)."""
    load_done: list[str] = Field(default_factory=list)
    """Document kinds the full load finished."""
    loaded: bool = False
    """The full load finished; from here on the sync is incremental."""
    safety_cursor: dict[str, dt.datetime] = Field(default_factory=dict)
    """Per catalog table, the newest `modified` the last safety pass saw."""
    safety_at: dt.datetime | None = None
    last_batch_at: dt.datetime | None = None
    drain_rate: float | None = None
    """Changes applied per second while the queue last drained (smoothed over batches)."""
    documents: int = 0
    """Documents written (upserted or deleted) since the first run."""


class StateStore(Protocol):
    async def load(self) -> SyncCheckpoint: ...

    async def save(self, checkpoint: SyncCheckpoint, connection: AsyncConnection) -> None:
        """Save; `connection` is the transaction the batch's queue bookkeeping runs in."""
        ...

    def describe(self) -> str: ...


class PostgresStateStore:
    """The checkpoint as one row in `search.sync_state`, saved in the batch's transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def load(self) -> SyncCheckpoint:
        async with self.engine.connect() as connection:
            raw = await connection.scalar(
                text("SELECT state::text FROM search.sync_state WHERE name = :name"),
                {"name": STATE_NAME},
            )
        return SyncCheckpoint.model_validate_json(raw) if raw else SyncCheckpoint()

    async def save(self, checkpoint: SyncCheckpoint, connection: AsyncConnection) -> None:
        await connection.execute(
            text(
                "INSERT INTO search.sync_state (name, state) VALUES (:name, CAST(:state AS jsonb))"
                " ON CONFLICT (name) DO UPDATE SET state = excluded.state, saved = now()"
            ),
            {"name": STATE_NAME, "state": checkpoint.model_dump_json()},
        )

    def describe(self) -> str:
        return "postgresql (search.sync_state)"


class YamlStateStore:
    """The checkpoint in a YAML file (as the seed projects keep it), replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def load(self) -> SyncCheckpoint:
        if not self.path.exists():
            return SyncCheckpoint()
        data = yaml.safe_load(self.path.read_text()) or {}
        return SyncCheckpoint.model_validate(data)

    async def save(self, checkpoint: SyncCheckpoint, connection: AsyncConnection) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with temporary.open("w") as handle:
            yaml.safe_dump(checkpoint.model_dump(mode="json"), handle, sort_keys=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def describe(self) -> str:
        return f"yaml ({self.path})"
