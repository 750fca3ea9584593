"""How auth joins the app: its router, the JWKS, CORS, and the keys made on first start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from kinoteka.auth.api import auth_error_handler, jwks_router, router
from kinoteka.auth.errors import AuthError
from kinoteka.mounting import ContextMount
from kinoteka.services import Services


def install_auth(app: FastAPI, services: Services) -> None:
    kit = services.auth
    app.include_router(router)
    app.include_router(jwks_router)
    app.add_exception_handler(AuthError, auth_error_handler)
    if kit.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=kit.settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            expose_headers=["X-Request-Id", "Retry-After"],
        )
    if kit.settings.oauth_providers:
        # Authlib's client stack is loaded only where social login is configured.
        from kinoteka.auth.oauth import install_oauth

        install_oauth(app, services, kit)


@asynccontextmanager
async def auth_lifespan(services: Services) -> AsyncIterator[None]:
    kit = services.auth
    # The first process of a deployment makes the signing key; the others load it.
    await kit.keys.signer()
    await kit.verifier.reload()
    yield


def auth_mount() -> ContextMount:
    return ContextMount("auth", install_auth, lifespan=auth_lifespan, uses=("auth",))
