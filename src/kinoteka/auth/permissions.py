"""Permissions (dotted strings) and the built-in roles granting them."""

from __future__ import annotations

import re
from enum import StrEnum

PERMISSION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class Permission(StrEnum):
    CATALOG_READ = "catalog.read"
    CATALOG_WRITE = "catalog.write"
    CONTENT_PREMIUM = "content.premium"
    CONTENT_WATCH = "content.watch"
    MEDIA_UPLOAD = "media.upload"
    UGC_WRITE = "ugc.write"
    ADMIN_ACCESS = "admin.access"
    USERS_READ = "users.read"
    NOTIFY_SEND = "notify.send"
    ROLES_MANAGE = "roles.manage"
    USERS_MANAGE = "users.manage"
    ANALYTICS_VIEW = "analytics.view"


class RoleName(StrEnum):
    PUBLIC_USER = "public_user"
    SUBSCRIBER = "subscriber"
    ADMIN = "admin"
    SUPER_USER = "super_user"


_PUBLIC = (Permission.CATALOG_READ, Permission.UGC_WRITE, Permission.CONTENT_WATCH)
_SUBSCRIBER = (*_PUBLIC, Permission.CONTENT_PREMIUM)
_ADMIN = (
    *_SUBSCRIBER,
    Permission.ADMIN_ACCESS,
    Permission.CATALOG_WRITE,
    Permission.USERS_READ,
    Permission.NOTIFY_SEND,
    Permission.ANALYTICS_VIEW,
    Permission.MEDIA_UPLOAD,
)

BUILTIN_ROLES: dict[RoleName, tuple[str, tuple[Permission, ...]]] = {
    RoleName.PUBLIC_USER: ("Every signed-up account.", _PUBLIC),
    RoleName.SUBSCRIBER: ("A paying subscriber: premium content.", _SUBSCRIBER),
    RoleName.ADMIN: ("Editors of the catalog and the admin panel.", _ADMIN),
    RoleName.SUPER_USER: ("Everything, including roles and accounts.", tuple(Permission)),
}


def is_valid_permission(name: str) -> bool:
    """Dotted lowercase words, at least two: `catalog.read`, `ugc.reviews.moderate`."""
    return PERMISSION_PATTERN.fullmatch(name) is not None
