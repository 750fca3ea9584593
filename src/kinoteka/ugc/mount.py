"""How UGC joins an app: its routes, its error handler, forgetting deleted accounts' data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth import off_account_deleted, on_account_deleted
from kinoteka.mounting import ContextMount
from kinoteka.services import Services
from kinoteka.ugc.accounts import forget_user
from kinoteka.ugc.api import install_api, ugc_error_handler
from kinoteka.ugc.documents import INDEXES
from kinoteka.ugc.errors import UgcError
from kinoteka.ugc.kit import get_ugc


def install_ugc(app: FastAPI, services: Services) -> None:
    install_api(app, services)
    app.add_exception_handler(UgcError, ugc_error_handler)


@asynccontextmanager
async def ugc_lifespan(services: Services) -> AsyncIterator[None]:
    kit = get_ugc(services)
    await kit.store.prepare(INDEXES)

    async def forget(session: AsyncSession, user_id: uuid.UUID) -> None:
        await forget_user(kit.store, user_id)

    on_account_deleted(forget)
    try:
        yield
    finally:
        off_account_deleted(forget)


def ugc_mount() -> ContextMount:
    return ContextMount("ugc", install_ugc, lifespan=ugc_lifespan, uses=("ugc", "auth"))
