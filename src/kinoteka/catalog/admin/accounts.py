"""The accounts view for super users: who holds which role (granted through auth's service).

Roles are read and written only through `kinoteka.auth`'s functions, so a change takes effect
on the account's next request, and taking super_user from its last holder is refused.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from wtforms import Form, SelectMultipleField

from kinoteka.auth import (
    AccountRecord as User,
)
from kinoteka.auth import (
    account_role_names,
    get_auth_kit,
    on_account_deleted,
    role_names,
    set_account_roles,
)
from kinoteka.catalog.admin.access import ACCOUNTS_VIEW
from kinoteka.catalog.admin.views import AuditedView
from kinoteka.catalog.audit import AuditRecord
from kinoteka.services import Services


# SQLAdmin's ModelView is built on a mapped class (its list query, search, sort and column
# lists all name ORM attributes), so the view lists auth's `AccountRecord` read-only; it has
# no form columns of its own, and roles are read and written only through auth's functions.
class AccountAdmin(AuditedView, model=User):
    name = "Account"
    name_plural = "Accounts and roles"
    icon = "fa-solid fa-user-shield"
    can_create = False  # accounts are made by sign-up or `kinoteka auth create-superuser`
    can_delete = False
    can_export = False
    column_list: ClassVar[list[Any]] = [User.email, User.is_active, User.created,
                                        User.last_login_at]  # fmt: skip
    column_searchable_list: ClassVar[list[Any]] = [User.email]
    column_sortable_list: ClassVar[list[Any]] = [User.email, User.created, User.last_login_at]
    column_details_list: ClassVar[list[Any]] = [User.email, User.is_active, User.created,
                                                User.last_login_at]  # fmt: skip
    form_columns: ClassVar[list[Any]] = []
    audit_fields = ("email",)

    services: ClassVar[Services]

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        async with self.session_maker() as session:
            names = await role_names(session)
        field = SelectMultipleField("Roles", choices=[(name, name) for name in names])
        return type("AccountForm", (Form,), {"roles": field})

    async def get_form_data_for_edit(self, obj: Any) -> dict[str, Any]:
        async with self.session_maker() as session:
            held = await account_role_names(session, uuid.UUID(str(obj.id)))
        return {"roles": held}

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        await super().on_model_change(data, model, is_created, request)
        request.state.kinoteka_roles = set(data.pop("roles", None) or [])

    async def after_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> Response | None:
        wanted: set[str] = request.state.kinoteka_roles
        user_id = uuid.UUID(str(model.id))
        kit = get_auth_kit(self.services)
        # An auth refusal (the last super user) aborts the change and shows on the form.
        async with self.services.db.session() as session:
            granted, revoked = await set_account_roles(session, kit, user_id, wanted)
        await super().after_model_change(data, model, is_created, request)
        data["roles"] = {"granted": granted, "revoked": revoked}
        return None


@on_account_deleted
async def forget_deleted_account(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The audit trail keeps what was done and the account's id, not who the account was."""
    account = str(user_id)
    await session.execute(
        update(AuditRecord).where(AuditRecord.actor_id == account).values(actor_email=None)
    )
    await session.execute(
        update(AuditRecord)
        .where(AuditRecord.entity == ACCOUNTS_VIEW, AuditRecord.object_id == account)
        .values(object_repr=None, changes=AuditRecord.changes.op("-")("email"))
    )
