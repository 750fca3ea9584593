"""What every CLI command shares: settings or a one-line error, the stores, a rich console."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from kinoteka.infra.footprint import StoreUrls
    from kinoteka.settings import Settings

console = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line (no traceback) and exit non-zero."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_or_exit(**overrides: Any) -> Settings:
    """The settings, or exit with one line naming the bad one; `overrides` (a command's
    options, e.g. `--port`) come before the environment."""
    # Imported here, not above: every command module imports this one, and `--help` needs
    # neither pydantic-settings nor structlog.
    from kinoteka.logs import configure_logging
    from kinoteka.settings import SettingsError, load_settings

    try:
        settings = load_settings(**overrides)
    except SettingsError as error:
        fail(f"invalid setting: {error}", code=2)
    configure_logging(settings.log)
    return settings


@contextmanager
def running_stores(
    settings: Settings, *, database: bool = True, redis: bool = False, mail: bool = False
) -> Iterator[StoreUrls]:
    """The stores a command needs: configured servers, or embedded ones for its duration
    (`mail`: the SMTP sink too, when no SMTP server is configured; `kinoteka up` owns it)."""
    from kinoteka.infra.footprint import Footprint

    footprint = Footprint(settings, database=database, redis=redis, mail=mail)
    try:
        urls = footprint.start()
    except Exception as error:
        fail(f"cannot start the embedded stores: {error}")
    try:
        yield urls
    finally:
        footprint.stop()
