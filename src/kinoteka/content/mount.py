"""How the content API joins an app: its routes over the shared search index client."""

from __future__ import annotations

from fastapi import FastAPI

from kinoteka.app import ContextMount
from kinoteka.content import api
from kinoteka.search.mount import attach_search
from kinoteka.services import Services


def install(app: FastAPI, services: Services) -> None:
    # Opened here when the content API runs alone (`kinoteka serve content`); shared with the
    # search context's follower when both are mounted.
    attach_search(services)
    api.install(app)


def content_mount() -> ContextMount:
    return ContextMount(name="content", install=install)
