"""Other contexts' pages in the back office: registered through `ContextMount.admin`, shown
only to editors holding the section's permission."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqladmin import BaseView, expose
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from kinoteka import app as app_module
from kinoteka.auth import AccessClaims, Permission
from kinoteka.mounting import ADMIN_CLAIMS_STATE, AdminSection, ContextMount
from kinoteka.services import Services
from tests.catalog.app_fixtures import PASSWORD, Panel, admin_panel

EDITOR = "editor@example.com"
ROOT = "root@example.com"


def _sections(services: Services) -> Sequence[AdminSection]:
    class Ledger(BaseView):
        name = "Ledger"

        @expose("/ledger", methods=["GET"], identity="ledger")
        async def page(self, request: Request) -> Response:
            claims: AccessClaims = getattr(request.state, ADMIN_CLAIMS_STATE)
            return HTMLResponse(f"<p>ledger for {claims.subject}</p>")

    return [AdminSection(Ledger, Permission.ROLES_MANAGE)]


@pytest.fixture
async def panel(
    fresh_database: str, flushed_redis: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Panel]:
    known = app_module.available_contexts

    def with_ledger() -> dict[str, ContextMount]:
        mounts = known()
        mounts["ledger"] = ContextMount("ledger", lambda app, services: None, admin=_sections)
        return mounts

    monkeypatch.setattr(app_module, "available_contexts", with_ledger)
    users = {EDITOR: ["admin"], ROOT: ["super_user"]}
    async with admin_panel(fresh_database, flushed_redis, tmp_path, users) as built:
        yield built


async def test_a_section_opens_only_for_its_permission(panel: Panel) -> None:
    client = panel.client
    assert (await client.get("/admin/ledger")).headers["location"].endswith("/admin/login")

    form = {"username": EDITOR, "password": PASSWORD}
    assert (await client.post("/admin/login", data=form)).status_code == 302
    assert (await client.get("/admin/ledger")).status_code == 403
    assert "Ledger" not in (await client.get("/admin/")).text
    assert (await client.get("/admin/film-work/list")).status_code == 200

    await client.get("/admin/logout")
    form = {"username": ROOT, "password": PASSWORD}
    assert (await client.post("/admin/login", data=form)).status_code == 302
    page = await client.get("/admin/ledger")
    assert page.status_code == 200
    (root_id,) = panel.rows("SELECT id FROM auth.users WHERE email = %s", ROOT)[0]
    assert f"ledger for {root_id}" in page.text
    assert "Ledger" in (await client.get("/admin/")).text
