"""Run the Alembic migrations (every context's branch) against a database URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool

from kinoteka.infra.db import sync_url

MIGRATIONS_DIR = Path(__file__).resolve().parents[4] / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    versions = sorted(p for p in (MIGRATIONS_DIR / "versions").iterdir() if p.is_dir())
    config.set_main_option("version_locations", " ".join(str(p) for p in versions))
    config.set_main_option("path_separator", "space")
    # ConfigParser interpolation would trip over `%` in percent-encoded passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, target: str = "heads") -> None:
    command.upgrade(alembic_config(url), target)


def downgrade(url: str, target: str = "base") -> None:
    command.downgrade(alembic_config(url), target)


def current_heads(url: str) -> set[str]:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            return set(context.get_current_heads())
    finally:
        engine.dispose()
