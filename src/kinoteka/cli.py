"""The `kinoteka` command: run the platform, one service, migrations, and each context's tools."""

from __future__ import annotations

import contextlib
import signal
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from rich.table import Table

from kinoteka.app import available_contexts, create_app
from kinoteka.auth.cli import app as auth_app
from kinoteka.catalog.cli import app as catalog_app
from kinoteka.catalog.demo import ensure_demo_catalog
from kinoteka.catalog.generator import GenerateError
from kinoteka.catalog.sqlite_import import ImportInputError
from kinoteka.console import console, fail, out, running_stores, settings_or_exit
from kinoteka.infra.db import migrations
from kinoteka.infra.footprint import StoreUrls
from kinoteka.notify.cli import app as notify_app
from kinoteka.search.cli import app as sync_app
from kinoteka.services import build_services
from kinoteka.settings import Settings

app = typer.Typer(help="Kinoteka, an open-source online cinema.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
app.add_typer(auth_app, name="auth")
app.add_typer(sync_app, name="sync")
app.add_typer(notify_app, name="notify")

HostOption = Annotated[str | None, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int | None, typer.Option(min=1, max=65535, help="Port to listen on.")]


class Terminated(Exception):
    """SIGTERM, turned into an exception so that cleanup code runs (the default just dies)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def _stop_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, _raise_terminated)


def _summary(
    settings: Settings, urls: StoreUrls, host: str, port: int, contexts: list[str]
) -> Table:
    table = Table(title="Kinoteka", show_header=True)
    table.add_column("role")
    table.add_column("where")
    table.add_column("how")
    for role, url, key in (
        ("relational store", urls.database_url, "postgres"),
        ("cache / bus", urls.redis_url, "redis"),
    ):
        table.add_row(role, url, "embedded" if key in urls.embedded else "server")
    table.add_row("search index", urls.search_url, "")
    table.add_row("object storage", urls.storage_url, "")
    table.add_row("data directory", str(settings.data_dir), "")
    table.add_row("HTTP", f"http://{host}:{port}  (docs: /docs, health: /health)", "")
    table.add_row("contexts", ", ".join(contexts) or "(health only)", "")
    return table


def _serve(settings: Settings, urls: StoreUrls, contexts: list[str] | None, host: str, port: int,
           *, background: bool) -> None:  # fmt: skip
    services = build_services(settings, urls)
    try:
        application = create_app(services, contexts, run_background=background)
    except ValueError as error:
        fail(str(error))
    # Forwarded headers are believed only from KINOTEKA_TRUSTED_PROXIES, by the app's own
    # middleware: uvicorn's default would trust them from any local client.
    config = uvicorn.Config(
        application, host=host, port=port, log_config=None, lifespan="on", proxy_headers=False
    )
    # uvicorn re-raises the signal it handled once its shutdown is done; both arrive here as
    # exceptions, so the embedded servers are stopped by `running_stores` on the way out.
    with contextlib.suppress(KeyboardInterrupt, Terminated):
        uvicorn.Server(config).run()


@app.command()
def up(host: HostOption = None, port: PortOption = None) -> None:
    """Run the whole platform: embedded stores, migrations, demo catalog, every API."""
    settings = settings_or_exit()
    host = host or settings.host
    port = port or settings.port
    _stop_on_sigterm()
    with running_stores(settings, database=True, redis=True) as urls:
        migrations.upgrade(urls.database_url)
        try:
            loaded = ensure_demo_catalog(urls.database_url, settings.demo)
        except (ImportInputError, GenerateError) as error:
            fail(f"demo catalog: {error}")
        if loaded:
            console.print(f"demo catalog: {loaded}")
        contexts = list(available_contexts())
        out.print(_summary(settings, urls, host, port, contexts))
        _serve(settings, urls, None, host, port, background=True)
    console.print("stopped; embedded servers shut down")


@app.command()
def serve(
    context: Annotated[str, typer.Argument(help="The context to serve alone (e.g. content).")],
    host: HostOption = None,
    port: PortOption = None,
) -> None:
    """Serve one context's API alone, to deploy and scale it on its own."""
    settings = settings_or_exit()
    if context not in available_contexts():
        fail(f"unknown context {context!r}; known: {', '.join(available_contexts()) or 'none'}")
    _stop_on_sigterm()
    with running_stores(settings, database=True, redis=True) as urls:
        _serve(settings, urls, [context], host or settings.host, port or settings.port,
               background=False)  # fmt: skip


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
) -> None:
    """Apply migrations (every context's branch by default)."""
    settings = settings_or_exit()
    with running_stores(settings) as urls:
        migrations.upgrade(urls.database_url, revision)
        out.print(f"database at {', '.join(sorted(migrations.current_heads(urls.database_url)))}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (base: empty).")],
) -> None:
    """Revert migrations down to a revision."""
    settings = settings_or_exit()
    with running_stores(settings) as urls:
        migrations.downgrade(urls.database_url, revision)
        heads = migrations.current_heads(urls.database_url)
        out.print(f"database at {', '.join(sorted(heads)) or 'base (empty)'}")


@db_app.command("current")
def db_current() -> None:
    """Show the applied revisions."""
    settings = settings_or_exit()
    with running_stores(settings) as urls:
        heads = migrations.current_heads(urls.database_url)
        out.print(", ".join(sorted(heads)) or "base (empty)")


def main() -> None:
    app()
