"""`kinoteka auth …` through the real command: super user, grants, key rotation, bad input."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from kinoteka.auth.models import Role, SigningKey, User, UserRole
from kinoteka.cli import app
from kinoteka.infra import db as db_port
from tests.auth.conftest import PASSWORD


@pytest.fixture
def env(fresh_database: str, embedded_redis: str) -> dict[str, str]:
    return {
        "KINOTEKA_DATABASE_URL": fresh_database,
        "KINOTEKA_REDIS_URL": embedded_redis,
        "KINOTEKA_AUTH__PASSWORD_HASH__MEMORY_KIB": "256",
        "KINOTEKA_AUTH__PASSWORD_HASH__TIME_COST": "1",
    }


def _roles_of(database_url: str, email: str) -> list[str]:
    async def query() -> list[str]:
        db = db_port.from_url(database_url, pool_size=1)
        try:
            async with db.session() as session:
                statement = (
                    select(Role.name).join(UserRole, UserRole.role_id == Role.id)
                    .join(User, User.id == UserRole.user_id).where(User.email == email)
                    .order_by(Role.name)
                )  # fmt: skip
                return list(await session.scalars(statement))
        finally:
            await db.close()

    return asyncio.run(query())


def test_create_superuser_with_flags_and_grant_role(env: dict[str, str]) -> None:
    runner = CliRunner()
    made = runner.invoke(
        app, ["auth", "create-superuser", "--email", "Root@Example.com", "--password", PASSWORD],
        env=env,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "super user root@example.com created" in made.output
    assert _roles_of(env["KINOTEKA_DATABASE_URL"], "root@example.com") == ["super_user"]

    granted = runner.invoke(app, ["auth", "grant-role", "root@example.com", "subscriber"], env=env)
    assert granted.exit_code == 0, granted.output
    assert _roles_of(env["KINOTEKA_DATABASE_URL"], "root@example.com") == [
        "subscriber", "super_user",
    ]  # fmt: skip

    again = runner.invoke(
        app, ["auth", "create-superuser", "--email", "root@example.com", "--password", PASSWORD],
        env=env,
    )  # fmt: skip
    assert again.exit_code == 1
    assert "email: an account with this email already exists" in again.output


def test_revoke_role_refuses_to_remove_the_last_super_user(env: dict[str, str]) -> None:
    runner = CliRunner()
    for email in ("one@example.com", "two@example.com"):
        made = runner.invoke(
            app, ["auth", "create-superuser", "--email", email, "--password", PASSWORD], env=env
        )
        assert made.exit_code == 0, made.output

    first = runner.invoke(app, ["auth", "revoke-role", "one@example.com", "super_user"], env=env)
    assert first.exit_code == 0, first.output
    assert "one@example.com no longer holds super_user" in first.output
    last = runner.invoke(app, ["auth", "revoke-role", "two@example.com", "super_user"], env=env)

    assert last.exit_code == 1
    assert "last active super user" in last.output
    assert "Traceback" not in last.output
    assert _roles_of(env["KINOTEKA_DATABASE_URL"], "two@example.com") == ["super_user"]


def test_create_superuser_interactively(env: dict[str, str]) -> None:
    answers = f"ops@example.com\n{PASSWORD}\n{PASSWORD}\n"
    made = CliRunner().invoke(app, ["auth", "create-superuser"], input=answers, env=env)
    assert made.exit_code == 0, made.output
    assert _roles_of(env["KINOTEKA_DATABASE_URL"], "ops@example.com") == ["super_user"]


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [("not-an-email", PASSWORD, "email:"), ("ok@example.com", "short", "password:")],
)
def test_bad_input_is_one_line_naming_the_field(
    env: dict[str, str], email: str, password: str, field: str
) -> None:
    result = CliRunner().invoke(
        app, ["auth", "create-superuser", "--email", email, "--password", password], env=env
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {field}")


def test_rotate_keys(env: dict[str, str]) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["auth", "rotate-keys"], env=env)
    second = runner.invoke(app, ["auth", "rotate-keys"], env=env)
    assert first.exit_code == second.exit_code == 0, first.output + second.output

    async def keys() -> list[tuple[str, bool]]:
        db = db_port.from_url(env["KINOTEKA_DATABASE_URL"], pool_size=1)
        try:
            async with db.session() as session:
                rows = await session.scalars(select(SigningKey).order_by(SigningKey.created))
                return [(row.kid, row.retired_at is None) for row in rows]
        finally:
            await db.close()

    stored = asyncio.run(keys())
    assert [live for _, live in stored] == [False, True]
    assert f"signing with {stored[-1][0]}" in second.output
    assert stored[0][0] in second.output  # the retired key is still served
