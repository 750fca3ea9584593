"""How a context joins an app: the `ContextMount` every `<context>/mount.py` returns.

The composition root (`kinoteka.app`) collects the mounts; a mount never imports the root.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI

from kinoteka.services import ClientName, Services

if TYPE_CHECKING:
    from sqladmin import BaseView

ADMIN_CLAIMS_STATE = "kinoteka_admin_claims"
"""Where the back office keeps the signed-in editor's `AccessClaims` (`request.state`), for
the views other contexts add to it."""


@dataclass(frozen=True)
class AdminSection:
    """A page a context adds to the back office at `/admin` (SQLAdmin).

    `view` is a SQLAdmin view class (a `BaseView` with `@expose` pages, or a `ModelView`);
    the panel shows it, in its menu and at its routes, only to editors holding `permission`.
    The view reads the editor's claims from `request.state` under `ADMIN_CLAIMS_STATE`.
    """

    view: type[BaseView]
    permission: str


@dataclass(frozen=True)
class ContextMount:
    name: str
    install: Callable[[FastAPI, Services], None]
    """Installs the context's routers (and anything else it serves) on the app."""
    lifespan: Callable[[Services], AbstractAsyncContextManager[None]] | None = None
    background: Callable[[Services], AbstractAsyncContextManager[None]] | None = None
    """Workers `kinoteka up` runs beside the API (the search follower, …); not under `serve`."""
    uses: tuple[ClientName, ...] = ()
    """The shared clients the context uses: the app opens them (registering their health
    checks) and serves their own routes, such as the local storage's signed downloads."""
    admin: Callable[[Services], Sequence[AdminSection]] | None = None
    """The context's pages in the back office, shown wherever the admin panel is mounted
    (also under `kinoteka serve admin`, where the context itself is not)."""
