"""`kinoteka ugc …`: repair the per-film counters from the stored ratings and reviews."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from kinoteka.console import fail, out, running_stores, settings_or_exit

if TYPE_CHECKING:  # the rest is imported by the command: `--help` stays fast (see cli.py)
    from kinoteka.infra.documents import DocumentStore

app = typer.Typer(help="Viewers' content: bookmarks, ratings, reviews.", no_args_is_help=True)


def _film_argument(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise typer.BadParameter(f"not a film id: {value!r}") from None


async def _recount(store: DocumentStore, film: uuid.UUID | None) -> tuple[int, int]:
    from kinoteka.ugc.recount import films_with_counters_or_rows, repair_film_stats

    films = [film] if film is not None else await films_with_counters_or_rows(store)
    repaired = 0
    for film_id in films:
        repair = await repair_film_stats(store, film_id)
        if repair.fixes:
            repaired += 1
            changes = ", ".join(
                f"{fix.field} {fix.stored!r} -> {fix.counted}" for fix in repair.fixes
            )
            out.print(f"film {film_id}: {changes}", highlight=False, soft_wrap=True)
    return len(films), repaired


@app.command()
def recount(
    film: Annotated[
        str | None,
        typer.Argument(help="The film's id; every film with counters, ratings or reviews when "
                       "left out.", show_default=False),
    ] = None,
) -> None:  # fmt: skip
    """Recompute films' rating counters and review counts from the stored rows; repair drift."""
    film_id = _film_argument(film)
    settings = settings_or_exit()
    from kinoteka.infra import documents as documents_port
    from kinoteka.infra.db import migrations
    from kinoteka.infra.outage import StoreUnavailable

    with running_stores(settings, database=True) as urls:
        if settings.ugc.store_url is None:
            migrations.upgrade(urls.database_url)

        async def main() -> tuple[int, int]:
            store = documents_port.from_url(settings.ugc.store_url or urls.database_url)
            try:
                return await _recount(store, film_id)
            finally:
                await store.close()

        try:
            checked, repaired = asyncio.run(main())
        except StoreUnavailable as error:
            fail(str(error))
    out.print(f"checked {checked} film(s), repaired {repaired}", highlight=False)
