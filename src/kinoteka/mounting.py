"""How a context joins an app: the `ContextMount` every `<context>/mount.py` returns.

The composition root (`kinoteka.app`) collects the mounts; a mount never imports the root.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from fastapi import FastAPI

from kinoteka.services import ClientName, Services


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
