"""The `kinoteka` command: run the platform, one service, migrations, and each context's tools."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from kinoteka.analytics.cli import app as analytics_app
from kinoteka.auth.cli import app as auth_app
from kinoteka.catalog.cli import app as catalog_app
from kinoteka.console import console, fail, out, running_stores, settings_or_exit
from kinoteka.infra.tasks import QUEUES
from kinoteka.notify.cli import app as notify_app
from kinoteka.search.cli import app as sync_app
from kinoteka.ugc.cli import app as ugc_app

if TYPE_CHECKING:
    from rich.table import Table

    from kinoteka.infra.footprint import StoreUrls
    from kinoteka.settings import Settings

# Only typer, rich and the commands' own modules are imported up front: FastAPI, SQLAlchemy,
# Alembic and the store clients are imported by the command that uses them, so `--help` and
# a mistyped command answer at once (`make bench cli`; tests/test_cli.py pins the imports).

app = typer.Typer(help="Kinoteka, an open-source online cinema.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
app.add_typer(auth_app, name="auth")
app.add_typer(sync_app, name="sync")
app.add_typer(notify_app, name="notify")
app.add_typer(analytics_app, name="analytics")
app.add_typer(ugc_app, name="ugc")

HostOption = Annotated[str | None, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int | None, typer.Option(min=1, max=65535, help="Port to listen on.")]


class Terminated(Exception):
    """SIGTERM, turned into an exception so that cleanup code runs (the default just dies)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def _stop_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, _raise_terminated)


def _check_port_free(host: str, port: int) -> None:
    """Fail in one line when host:port cannot be listened on, before any store starts."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror}")
    with socket.socket(family, kind, proto) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by a previous run counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            reason = "is in use" if error.errno == errno.EADDRINUSE else f"({error.strerror})"
            fail(
                f"cannot listen on {host}:{port}: the port {reason}; "
                "choose another with --port or KINOTEKA_PORT"
            )


def _check_demo_source(settings: Settings) -> None:
    source = settings.demo.sqlite
    if source is not None and not source.is_file():
        what = "not a file" if source.exists() else "no such file"
        fail(f"demo catalog (KINOTEKA_DEMO__SQLITE): {source}: {what}")


def _summary(
    settings: Settings, urls: StoreUrls, host: str, port: int, contexts: list[str]
) -> Table:
    from rich.table import Table

    table = Table(title="Kinoteka", show_header=True)
    # Folded, not cut: a URL is copied from here, so every character of it must show.
    for column in ("role", "where", "how"):
        table.add_column(column, overflow="fold")
    for role, url, key in (
        ("relational store", urls.database_url, "postgres"),
        ("cache / bus", urls.redis_url, "redis"),
    ):
        table.add_row(role, url, "embedded" if key in urls.embedded else "server")
    notify = settings.notify
    smtp = f"smtp://{notify.smtp_host}:{notify.smtp_port}"
    if "mail" in urls.embedded:
        table.add_row("mail (SMTP)", f"{smtp} -> {urls.embedded['mail']}  "
                      "(read it: kinoteka notify mail)", "embedded")  # fmt: skip
    else:
        table.add_row("mail (SMTP)", urls.mail or smtp, "server")
    table.add_row("search index", urls.search_url, "")
    table.add_row("object storage", urls.storage_url, "")
    table.add_row("data directory", str(settings.data_dir), "")
    table.add_row("HTTP", f"http://{host}:{port}  (docs: /docs, health: /health)", "")
    table.add_row("contexts", ", ".join(contexts) or "(health only)", "")
    return table


def _serve(settings: Settings, urls: StoreUrls, contexts: list[str] | None, host: str, port: int,
           *, background: bool) -> None:  # fmt: skip
    import uvicorn

    from kinoteka.app import create_app
    from kinoteka.clients import build_services

    services = build_services(settings, urls)
    try:
        application = create_app(services, contexts, run_background=background)
    except ValueError as error:
        fail(str(error))
    # Forwarded headers are believed only from KINOTEKA_TRUSTED_PROXIES, by the app's own
    # middleware: uvicorn's default would trust them from any local client. uvicorn builds an
    # access line's arguments (client, quoted path) before the logger drops it: below the
    # configured level (KINOTEKA_LOG__LEVEL=WARNING) the access log is not run at all.
    config = uvicorn.Config(
        application,
        host=host,
        port=port,
        log_config=None,
        lifespan="on",
        proxy_headers=False,
        access_log=logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO),
    )
    # uvicorn re-raises the signal it handled once its shutdown is done; both arrive here as
    # exceptions, so the embedded servers are stopped by `running_stores` on the way out.
    with contextlib.suppress(KeyboardInterrupt, Terminated):
        uvicorn.Server(config).run()


def _address(host: str | None, port: int | None) -> dict[str, object]:
    """The command line's --host/--port as settings overrides (the links in mail follow)."""
    return {name: value for name, value in (("host", host), ("port", port)) if value}


@app.command()
def up(host: HostOption = None, port: PortOption = None) -> None:
    """Run the whole platform: embedded stores, migrations, demo catalog, every API."""
    settings = settings_or_exit(**_address(host, port))
    host, port = settings.host, settings.port
    _check_port_free(host, port)
    _check_demo_source(settings)

    from kinoteka.app import available_contexts
    from kinoteka.catalog.demo import ensure_demo_catalog
    from kinoteka.catalog.generator import GenerateError
    from kinoteka.catalog.sqlite_import import ImportInputError
    from kinoteka.infra.db import migrations

    _stop_on_sigterm()
    with running_stores(settings, database=True, redis=True, mail=True) as urls:
        migrations.upgrade(urls.database_url)
        try:
            loaded = ensure_demo_catalog(urls.database_url, settings.demo)
        except (ImportInputError, GenerateError) as error:
            fail(f"demo catalog: {error}")
        if loaded:
            console.print(f"demo catalog: {loaded}")
        contexts = list(available_contexts())
        out.print(_summary(settings, urls, host, port, contexts))
        # The task workers run beside the API on the embedded footprint, stopped with it.
        from kinoteka.infra.tasks.workers import (
            WorkerProcesses,
            inherited_environment,
            worker_environment,
        )

        workers = WorkerProcesses(list(QUEUES), worker_environment(urls, inherited_environment()))
        workers.start()
        try:
            if loaded and settings.media.demo_clips and settings.media.demo_clip_count:
                _demo_clips(settings, urls)
            _serve(settings, urls, None, host, port, background=True)
        finally:
            workers.stop()
    # The embedded servers stop with the last process using them: here, unless a command
    # started beside `up` still holds them.
    console.print("stopped")


def _demo_clips(settings: Settings, urls: StoreUrls) -> None:
    """Short generated clips for a few demo films, transcoded by the workers just started."""
    from kinoteka.catalog.demo import demo_film_ids
    from kinoteka.media.demo import add_demo_clips

    films = demo_film_ids(urls.database_url, settings.media.demo_clip_count)
    added = asyncio.run(add_demo_clips(settings, urls, films))
    if added:
        console.print(f"demo clips: {added} films get a generated clip (transcoding now)")
    else:
        console.print("demo clips: skipped (ffmpeg not found; run `make system-packages`)")


@app.command()
def serve(
    context: Annotated[str, typer.Argument(help="The context to serve alone (e.g. content).")],
    host: HostOption = None,
    port: PortOption = None,
) -> None:
    """Serve one context's API alone, to deploy and scale it on its own."""
    from kinoteka.app import available_contexts

    settings = settings_or_exit(**_address(host, port))
    if context not in available_contexts():
        fail(f"unknown context {context!r}; known: {', '.join(available_contexts()) or 'none'}")
    host, port = settings.host, settings.port
    _check_port_free(host, port)
    _stop_on_sigterm()
    with running_stores(settings, database=True, redis=True) as urls:
        _serve(settings, urls, [context], host, port, background=False)


@app.command()
def worker(
    queues: Annotated[
        str, typer.Option(help=f"Comma-separated queues ({', '.join(QUEUES)}); one process each.")
    ] = ",".join(QUEUES),
) -> None:
    """Run background task workers (transcoding, thumbnails, indexing) until stopped."""
    settings = settings_or_exit()
    names = [name.strip() for name in queues.split(",") if name.strip()]
    unknown = [name for name in names if name not in QUEUES]
    if unknown or not names:
        fail(f"unknown queue(s) {', '.join(unknown) or '(none)'}; known: {', '.join(QUEUES)}")
    from kinoteka.infra.tasks.workers import (
        WorkerProcesses,
        inherited_environment,
        worker_environment,
    )

    with running_stores(settings, database=True, redis=True) as urls:
        if len(names) == 1:
            from kinoteka.media import worker as media_worker

            media_worker.run(settings, urls, names)
            return
        _stop_on_sigterm()
        processes = WorkerProcesses(names, worker_environment(urls, inherited_environment()))
        processes.start()
        try:
            code = processes.wait()
        except (KeyboardInterrupt, Terminated):
            code = 0
        finally:
            processes.stop()
    if code:
        fail(f"a worker exited with status {code}")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
) -> None:
    """Apply migrations (every context's branch by default)."""
    from kinoteka.infra.db import migrations

    settings = settings_or_exit()
    with running_stores(settings) as urls:
        migrations.upgrade(urls.database_url, revision)
        out.print(f"database at {', '.join(sorted(migrations.current_heads(urls.database_url)))}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (base: empty).")],
) -> None:
    """Revert migrations down to a revision."""
    from kinoteka.infra.db import migrations

    settings = settings_or_exit()
    with running_stores(settings) as urls:
        migrations.downgrade(urls.database_url, revision)
        heads = migrations.current_heads(urls.database_url)
        out.print(f"database at {', '.join(sorted(heads)) or 'base (empty)'}")


@db_app.command("current")
def db_current() -> None:
    """Show the applied revisions."""
    from kinoteka.infra.db import migrations

    settings = settings_or_exit()
    with running_stores(settings) as urls:
        heads = migrations.current_heads(urls.database_url)
        out.print(", ".join(sorted(heads)) or "base (empty)")


def main() -> None:
    app()
