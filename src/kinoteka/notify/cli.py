"""`kinoteka notify …`: run the worker (consumers, outbox relay, scheduler); read the mail the
embedded footprint's SMTP sink kept."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from kinoteka.console import console, fail, out, running_stores, settings_or_exit

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


@app.command()
def mail(
    last: Annotated[int, typer.Option(min=1, help="How many of the newest messages.")] = 5,
    bodies: Annotated[bool, typer.Option(help="Print each message's text body too.")] = True,
) -> None:
    """Print the mail `kinoteka up`'s SMTP sink kept (under <data dir>/mail), newest last."""
    import email
    import email.policy
    from email.message import EmailMessage

    from rich.markup import escape

    from kinoteka.infra.mailsink import stored_mail

    settings = settings_or_exit()
    directory = settings.data_dir / "mail"
    stored = stored_mail(directory)
    if not stored:
        fail(f"no mail in {directory} (mail lands there while `kinoteka up` runs without "
             "KINOTEKA_NOTIFY__SMTP_* set)")  # fmt: skip
    console.print(f"{len(stored)} message(s) in {directory}; the last {min(last, len(stored))}:")
    for path in stored[-last:]:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        subject = escape(str(message["Subject"] or "(no subject)"))
        out.print(f"\n[bold]{subject}[/bold]", highlight=False, soft_wrap=True)
        for header in ("Date", "From", "To"):
            out.print(f"{header}: {message[header]}", markup=False, highlight=False, soft_wrap=True)
        out.print(f"File: {path}", markup=False, highlight=False, soft_wrap=True)
        if bodies and isinstance(message, EmailMessage):
            text = message.get_body(("plain",))
            if text is not None and isinstance(text, EmailMessage):
                out.print(f"\n{str(text.get_content()).rstrip()}", markup=False,
                          highlight=False, soft_wrap=True)  # fmt: skip
