"""The back office at `/admin` (SQLAdmin): catalog editing, posters, accounts' roles, audit.

`install_admin(app, services)` mounts it; the view classes are subclassed per app so two apps
in one process (tests, `serve`) never share a database or storage through class attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from markupsafe import Markup
from sqladmin import Admin, BaseView, ModelView
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request

from kinoteka.auth import AccessClaims, Permission
from kinoteka.catalog.admin.access import CLAIMS_STATE, AdminAuthentication, AdminGrants
from kinoteka.catalog.admin.accounts import AccountAdmin
from kinoteka.catalog.admin.trail import AuditTrail
from kinoteka.catalog.admin.views import AuditAdmin, FilmAdmin, GenreAdmin, PersonAdmin
from kinoteka.catalog.posters import poster_workers
from kinoteka.infra.csrf import CSRFMiddleware, csrf_token
from kinoteka.media import film_video_panel
from kinoteka.mounting import AdminSection
from kinoteka.services import Services
from kinoteka.settings import Environment

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSRF_COOKIE = "kinoteka_admin_csrf"
"""The admin's own CSRF cookie (at `Path=/admin`; the pages' guard has `kinoteka_csrf`)."""


FAVICON = "data:image/svg+xml," + quote(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" '
    'rx="14" fill="#14161c"/><path d="M24 18v28l22-14z" fill="#ffb547"/></svg>'
)
"""The site's play mark, inline: the back office needs no other context's files (a browser
asks for /favicon.ico when a page names no icon)."""


class KinotekaAdmin(Admin):
    @staticmethod
    async def _handle_form_data(request: Request, obj: Any = None) -> FormData:
        # SQLAdmin would stand in the stored file for an empty upload field, by reading an
        # attribute of the same name off the model; our poster field is not a model column.
        return await Admin._handle_form_data(request, None)


def _per_app(view: type[ModelView], **attributes: Any) -> type[ModelView]:
    return type(view.__name__, (view,), dict(attributes))


def _video_panel(services: Services) -> Callable[[Request, Any], Markup]:
    """The film page's video upload control, for editors holding `media.upload`."""
    secret = services.settings.secret_key.get_secret_value()

    def panel(request: Request, film: Any) -> Markup:
        claims: AccessClaims | None = getattr(request.state, CLAIMS_STATE, None)
        if claims is None or not claims.has(Permission.MEDIA_UPLOAD):
            return Markup("")
        return film_video_panel(secret, str(claims.subject), getattr(film, "id", None))

    return panel


def install_admin(app: FastAPI, services: Services) -> Admin:
    settings = services.settings.catalog
    authentication = AdminAuthentication(services, settings.admin)
    sections: list[AdminSection] = list(getattr(app.state, "admin_sections", ()))
    views: list[type[BaseView]] = [
        _per_app(
            FilmAdmin,
            storage=services.storage,
            posters=settings.posters,
            images=poster_workers(settings.posters),
        ),
        _per_app(GenreAdmin),
        _per_app(PersonAdmin),
        _per_app(AuditAdmin),
        _per_app(AccountAdmin, services=services),
        *(section.view for section in sections),
    ]
    grants = AdminGrants([view.identity for view in views if issubclass(view, ModelView)])
    # Every form and script of the admin sends the token back (see templates/sqladmin).
    csrf = Middleware(
        CSRFMiddleware,
        secret=services.settings.secret_key.get_secret_value(),
        secure=settings.admin.https_only or services.settings.env is Environment.PRODUCTION,
        cookie_path="/admin",
        cookie_name=CSRF_COOKIE,
    )
    admin = KinotekaAdmin(
        app,
        middlewares=[csrf],
        session_maker=async_sessionmaker(services.db.engine, expire_on_commit=False),
        base_url="/admin",
        title=settings.admin.title,
        favicon_url=FAVICON,
        templates_dir=str(TEMPLATES),
        authentication_backend=authentication,
        authorization_backend=grants,
        audit_backend=AuditTrail(services.db.sessions),
    )
    authentication.templates = admin.templates
    admin.templates.env.globals["csrf_token"] = csrf_token
    for view in views:
        admin.add_view(view)
    # A custom page's identity is its `@expose` identity, known once it is added.
    grants.sections.update({section.view.identity: section.permission for section in sections})
    film_view = next(v for v in admin.views if isinstance(v, FilmAdmin))
    admin.templates.env.globals["kinoteka_person_names"] = film_view.person_names
    admin.templates.env.globals["kinoteka_video_panel"] = _video_panel(services)
    return admin
