"""`kinoteka auth …`: create a super user, grant and revoke roles, rotate the signing keys."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from kinoteka.console import fail, out, running_stores, settings_or_exit

if TYPE_CHECKING:  # the rest is imported by the commands: `--help` stays fast (see cli.py)
    from kinoteka.auth.kit import AuthKit
    from kinoteka.infra.footprint import StoreUrls
    from kinoteka.settings import Settings

app = typer.Typer(help="Accounts, roles and signing keys.", no_args_is_help=True)


Work = Callable[["AuthKit"], Awaitable[str]]


async def _with_kit(settings: Settings, urls: StoreUrls, work: Work) -> str:
    from kinoteka.auth.kit import build_auth_kit
    from kinoteka.infra import cache as cache_port
    from kinoteka.infra import db as db_port

    db = db_port.from_url(urls.database_url)
    cache = cache_port.from_url(urls.redis_url)
    kit = build_auth_kit(settings, db, cache, urls.redis_url)
    try:
        return await work(kit)
    finally:
        await kit.close()
        await cache.close()
        await db.close()


def _run(settings: Settings, work: Work) -> str:
    from kinoteka.auth.errors import AuthError
    from kinoteka.infra.db import migrations

    with running_stores(settings, database=True, redis=True) as urls:
        migrations.upgrade(urls.database_url)
        try:
            return asyncio.run(_with_kit(settings, urls, work))
        except AuthError as error:
            fail(str(error))


@app.command("create-superuser")
def create_superuser(
    email: Annotated[str | None, typer.Option(help="Login email; prompted when left out.")] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Password for scripts (prefer the prompt: shells keep history)."),
    ] = None,
) -> None:
    """Create an account holding the super_user role (interactive, or with flags)."""
    from kinoteka.auth import service
    from kinoteka.auth.errors import AuthError
    from kinoteka.auth.permissions import RoleName

    settings = settings_or_exit()
    login: str = email if email is not None else typer.prompt("Email")
    secret: str = (
        password
        if password is not None
        else typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    try:
        # Checked before any store starts, so a typo costs nothing and says which field.
        login = service.normalise_email(login)
        service.check_new_password(settings.auth, secret, login)
    except AuthError as error:
        fail(str(error))

    async def work(kit: AuthKit) -> str:
        async with kit.db.session() as session:
            user = await service.create_user(
                session, kit, login, secret, roles=[RoleName.SUPER_USER]
            )
            return f"super user {user.email} created (id {user.id})"

    out.print(_run(settings, work))


@app.command("grant-role")
def grant_role(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    role: Annotated[str, typer.Argument(help="Role name, e.g. subscriber or admin.")],
) -> None:
    """Grant a role; the account's current tokens are voided, its next refresh carries it."""
    from kinoteka.auth import roles, service

    settings = settings_or_exit()

    async def work(kit: AuthKit) -> str:
        async with kit.db.session() as session:
            user = await service.find_user(session, email)
            await roles.grant_role(session, kit, user.id, role)
            return f"{user.email} now holds {role}"

    out.print(_run(settings, work))


@app.command("revoke-role")
def revoke_role(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    role: Annotated[str, typer.Argument(help="Role name, e.g. admin.")],
) -> None:
    """Take a role away; the account's current tokens stop working at once.

    Taking super_user from the last active super user is refused.
    """
    from kinoteka.auth import roles, service

    settings = settings_or_exit()

    async def work(kit: AuthKit) -> str:
        async with kit.db.session() as session:
            user = await service.find_user(session, email)
            await roles.revoke_role(session, kit, user.id, role)
            return f"{user.email} no longer holds {role}"

    out.print(_run(settings, work))


@app.command("rotate-keys")
def rotate_keys() -> None:
    """Start signing with a new key; the old one stays in the JWKS until its tokens expire."""
    settings = settings_or_exit()

    async def work(kit: AuthKit) -> str:
        async with kit.db.session() as session:
            kid = await kit.keys.rotate(session)
        served = [key["kid"] for key in (await kit.keys.jwks())["keys"]]
        return f"signing with {kid}; JWKS serves {', '.join(served)}"

    out.print(_run(settings, work))
