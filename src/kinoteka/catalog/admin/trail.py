"""The audit backend: SQLAdmin's change entries, with the acting account, into `admin.audit_log`."""

from __future__ import annotations

from typing import Any

from sqladmin import AuditEntry, DBAuditBackend
from starlette.requests import Request

from kinoteka.catalog.admin.access import actor_of
from kinoteka.catalog.admin.views import AUDIT_REPR
from kinoteka.catalog.audit import AuditAction, AuditRecord, json_safe


class AuditTrail(DBAuditBackend):
    async def get_actor(self, request: Request) -> Any:
        return actor_of(request)

    def build_row(self, entry: AuditEntry, actor: Any, request: Request) -> AuditRecord:
        actor_id, actor_email = actor
        return AuditRecord(
            at=entry.timestamp,
            actor_id=actor_id,
            actor_email=actor_email,
            action=AuditAction(entry.action),
            entity=entry.identity,
            object_id=entry.pk,
            object_repr=getattr(request.state, AUDIT_REPR, None),
            changes=json_safe(entry.changes) if entry.changes is not None else None,
        )
