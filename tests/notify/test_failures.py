"""SMTP failures: an outage delays mail and loses none; past the last attempt the delivery is
failed with its error, visible in the admin, and the message parked in the dead-letter queue."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from kinoteka.services import Services
from kinoteka.settings import Settings
from tests.notify.conftest import SmtpServer, eventually, notify_settings, sign_in_as, sign_up


async def email_deliveries(services: Services, address: str) -> list[tuple[str, int, str | None]]:
    async with services.db.session() as session:
        rows = await session.execute(text(
            "SELECT d.status, d.attempts, d.error FROM notify.delivery d"
            " JOIN notify.notification n ON n.id = d.notification_id"
            " WHERE n.email = :e AND d.channel = 'email'"
        ), {"e": address})  # fmt: skip
        return [(row.status, row.attempts, row.error) for row in rows]


async def retried(services: Services, address: str, attempts: int) -> None:
    """Wait until the email to `address` is back in the queue after `attempts` failed sends."""

    async def queued() -> bool:
        rows = await email_deliveries(services, address)
        return bool(rows) and rows[0][0] == "queued" and rows[0][1] >= attempts

    await eventually(queued)


class TestOutage:
    @pytest.fixture
    def settings(self, smtp: SmtpServer) -> Settings:
        return notify_settings(smtp.port, max_attempts=40, retry_max_delay=0.2)

    async def test_smtp_down_then_up_delays_mail_and_loses_none(
        self, client: httpx.AsyncClient, smtp: SmtpServer, services: Services
    ) -> None:
        smtp.stop()
        account = await sign_up(client)

        await retried(services, account["email"], 3)
        rows = await email_deliveries(services, account["email"])
        assert "SMTP" in (rows[0][2] or "")
        assert smtp.mailbox.to(account["email"]) == []
        smtp.start()
        await eventually(lambda: smtp.mailbox.to(account["email"]))

        async def sent() -> bool:
            rows = await email_deliveries(services, account["email"])
            return rows[0][0] == "sent"

        await eventually(sent)
        assert len(smtp.mailbox.to(account["email"])) == 1


async def test_past_the_last_attempt_a_delivery_fails_and_is_parked(
    client: httpx.AsyncClient, smtp: SmtpServer, services: Services
) -> None:
    smtp.stop()  # and it stays down: max_attempts is 4 here
    account = await sign_up(client)

    async def failed() -> bool:
        rows = await email_deliveries(services, account["email"])
        return bool(rows) and rows[0][0] == "failed"

    await eventually(failed)
    rows = await email_deliveries(services, account["email"])
    assert rows[0][1] == 4
    admin = await sign_in_as(client, services, "admin")
    failures = (await client.get("/api/v1/notify/admin/failures", headers=admin)).json()
    mine = [f for f in failures if f["email"] == account["email"]]
    assert len(mine) == 1
    assert mine[0]["kind"] == "welcome"
    assert mine[0]["attempts"] == 4
    assert "SMTP" in mine[0]["error"]

    async def parked() -> list[dict[str, object]]:
        answer = await client.get("/api/v1/notify/admin/dead-letters", headers=admin)
        letters: list[dict[str, object]] = answer.json()
        return letters

    letters = await eventually(parked)
    assert letters[0]["attempts"] == 4
    assert "SMTP" in str(letters[0]["error"])
    # A viewer may not look.
    viewer = await client.get("/api/v1/notify/admin/failures",
                              headers={"Authorization": f"Bearer {account['token']}"})  # fmt: skip
    assert viewer.status_code == 403


class TestDeadSendersClaim:
    """A delivery claimed by a sender that died mid-send is left to its claim's lease; the
    messages for it do not hold up other mail meanwhile (with one message in hand at a
    time, waiting for the claim would stop every other mail for the whole lease)."""

    @pytest.fixture
    def settings(self, smtp: SmtpServer) -> Settings:
        return notify_settings(smtp.port, max_attempts=40, retry_max_delay=0.2,
                               send_lease=6.0, broker_prefetch=1)  # fmt: skip

    async def test_other_mail_goes_out_at_once_and_the_claimed_one_after_the_lease(
        self, client: httpx.AsyncClient, smtp: SmtpServer, services: Services
    ) -> None:
        smtp.stop()
        stranded = await sign_up(client)

        await retried(services, stranded["email"], 1)
        async with services.db.session() as session:  # a sender claims it, then dies
            await session.execute(text(
                "UPDATE notify.delivery d SET status = 'sending', updated = now()"
                " FROM notify.notification n WHERE n.id = d.notification_id"
                " AND n.email = :e AND d.channel = 'email'"
            ), {"e": stranded["email"]})  # fmt: skip
        smtp.start()
        other = await sign_up(client)
        await eventually(lambda: smtp.mailbox.to(other["email"]), seconds=4)
        assert smtp.mailbox.to(stranded["email"]) == []  # its claim has not lapsed yet
        await eventually(lambda: smtp.mailbox.to(stranded["email"]), seconds=20)

        async def both_sent() -> bool:
            rows = [*await email_deliveries(services, stranded["email"]),
                    *await email_deliveries(services, other["email"])]  # fmt: skip
            return [row[0] for row in rows] == ["sent", "sent"]

        await eventually(both_sent)
        assert len(smtp.mailbox.to(stranded["email"])) == 1
        assert len(smtp.mailbox.to(other["email"])) == 1


async def test_a_database_outage_costs_the_worker_loop_one_line_per_pass(
    settings: Settings, flushed_redis: str
) -> None:
    """No traceback per pass while PostgreSQL is down: the loop says which store, and why."""
    import asyncio

    from structlog.testing import capture_logs

    from kinoteka.infra import db as db_port
    from kinoteka.notify.kit import build_notify_kit
    from kinoteka.notify.worker import _pace
    from tests.conftest import free_port

    db = db_port.from_url(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    kit = build_notify_kit(settings, db, flushed_redis)
    try:
        with capture_logs() as logs:
            task = asyncio.create_task(_pace(kit))
            await asyncio.sleep(1.0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await kit.close()
        await db.close()
    failed = [entry for entry in logs if entry["event"] == "notify.loop_failed"]
    assert failed, logs
    assert all(entry["log_level"] == "warning" for entry in failed)
    assert all("exc_info" not in entry and entry["store"] == "postgres" for entry in failed)
