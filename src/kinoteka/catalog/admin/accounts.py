"""The accounts view for super users: who holds which role (granted through the auth service)."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import Response
from wtforms import Form, SelectMultipleField

from kinoteka.auth import roles as auth_roles
from kinoteka.auth.models import User
from kinoteka.auth.service import user_roles
from kinoteka.catalog.admin.views import AuditedView
from kinoteka.services import Services


# SQLAdmin's ModelView is built on a mapped class (its list query, search, sort and column
# lists all name ORM attributes), so the view keeps `User` as its model; it has no form
# columns of its own, and roles are read and written only through auth's role functions.
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
            names = [role.name for role in await auth_roles.list_roles(session)]
        field = SelectMultipleField("Roles", choices=[(name, name) for name in names])
        return type("AccountForm", (Form,), {"roles": field})

    async def get_form_data_for_edit(self, obj: Any) -> dict[str, Any]:
        async with self.session_maker() as session:
            held = await user_roles(session, uuid.UUID(str(obj.id)))
        return {"roles": [role.name for role in held]}

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
        async with self.services.db.session() as session:
            held = {role.name for role in await user_roles(session, user_id)}
            for name in sorted(wanted - held):
                await auth_roles.grant_role(session, user_id, name)
            for name in sorted(held - wanted):
                await auth_roles.revoke_role(session, user_id, name)
        await super().after_model_change(data, model, is_created, request)
        data["roles"] = {"granted": sorted(wanted - held), "revoked": sorted(held - wanted)}
        return None
