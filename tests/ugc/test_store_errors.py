"""The PostgreSQL document store's statements go to the driver directly: its errors must still
come out as the platform's (an outage a 503, a bug a 500), and a broken link must heal."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError

from kinoteka.infra import documents as documents_port
from kinoteka.infra.db import DatabaseUnavailable, libpq_url, outage
from kinoteka.infra.documents.postgres import PostgresDocumentStore


async def _a_statement_on_a_killed_link(store: PostgresDocumentStore, url: str) -> None:
    async with store._driver() as driver:
        # The server ends this connection while it is checked out: the next statement breaks.
        with psycopg.connect(libpq_url(url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (driver.get_server_pid(),))
        await driver.fetchval("SELECT 1")


async def test_a_killed_connection_is_an_outage_and_the_next_call_reconnects(
    fresh_database: str,
) -> None:
    store = documents_port.from_url(fresh_database)
    assert isinstance(store, PostgresDocumentStore)
    try:
        await store.put("bookmarks", "k", {"user_id": "u"})
        with pytest.raises((DatabaseUnavailable, DBAPIError)) as caught:
            await _a_statement_on_a_killed_link(store, fresh_database)
        assert outage(caught.value) is not None, repr(caught.value)
        assert await store.get("bookmarks", "k") == {"user_id": "u"}
    finally:
        await store.close()


async def test_a_bad_statement_is_a_driver_error_not_an_outage(fresh_database: str) -> None:
    store = documents_port.from_url(fresh_database)
    assert isinstance(store, PostgresDocumentStore)
    try:
        with pytest.raises(DBAPIError) as caught:
            await store._one("SELECT no_such_column FROM ugc.bookmarks")
        assert outage(caught.value) is None
    finally:
        await store.close()
