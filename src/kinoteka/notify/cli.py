"""`kinoteka notify …`: run the worker (consumers, outbox relay, scheduler)."""

from __future__ import annotations

import asyncio
import signal

import typer

from kinoteka.console import console, running_stores, settings_or_exit

app = typer.Typer(help="Notifications: email and the in-app inbox.", no_args_is_help=True)


@app.command()
def worker() -> None:
    """Consume account events, emails and broadcasts until Ctrl-C (what `kinoteka up` runs)."""
    # The stack is imported by the command that uses it, so `kinoteka --help` stays quick.
    from kinoteka.infra import db as db_port
    from kinoteka.notify.kit import build_notify_kit
    from kinoteka.notify.worker import run_worker

    settings = settings_or_exit()
    with running_stores(settings, database=True, redis=True) as urls:

        async def main() -> None:
            db = db_port.from_url(urls.database_url, pool_size=8, settings=settings.database)
            kit = build_notify_kit(settings, db, urls.redis_url)
            task = asyncio.create_task(run_worker(kit))
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, task.cancel)
            try:
                await task
            except asyncio.CancelledError:
                pass
            finally:
                await kit.close()
                await db.close()

        console.print("notify worker running; Ctrl-C stops it")
        asyncio.run(main())
