"""How the content API joins an app: its routes over the shared search index client."""

from __future__ import annotations

from fastapi import FastAPI

from kinoteka.content import api
from kinoteka.mounting import ContextMount
from kinoteka.services import Services


def install(app: FastAPI, services: Services) -> None:
    api.install(app)


def content_mount() -> ContextMount:
    # The index is opened by the app (shared with the search follower when both are mounted).
    return ContextMount(name="content", install=install, uses=("search",))
