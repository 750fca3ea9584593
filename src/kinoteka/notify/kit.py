"""What the notify use cases share in one process: settings, database, broker and mailer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeSerializer

from kinoteka import ugc
from kinoteka.infra import broker as broker_port
from kinoteka.infra.broker import Broker, RetryPolicy
from kinoteka.infra.db import Database
from kinoteka.notify.live import InboxSignal
from kinoteka.notify.mail import Mailer
from kinoteka.notify.models import Kind
from kinoteka.notify.sending import EmailBatcher
from kinoteka.notify.settings import NotifySettings
from kinoteka.settings import Settings

GROUP = "notify"
EMAIL_TOPIC = "notify.email"
BROADCAST_TOPIC = "notify.broadcast"


@dataclass
class NotifyKit:
    settings: NotifySettings
    db: Database
    broker: Broker
    mailer: Mailer
    signal: InboxSignal
    secret: str
    genre_audience: bool = True
    """Whether announcements can address a genre's viewers (ugc's store is PostgreSQL)."""
    sender: EmailBatcher = field(default_factory=EmailBatcher)
    """Sends the email deliveries handled at the same moment as one batch."""

    @property
    def retry(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(s.max_attempts, s.retry_base_delay, s.retry_max_delay)

    def _signer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt="kinoteka.notify.unsubscribe")

    def unsubscribe_token(self, user_id: uuid.UUID, kind: Kind) -> str:
        """A token that switches `kind` off for the account; it does not expire."""
        return str(self._signer().dumps([str(user_id), kind.value]))

    def read_unsubscribe_token(self, token: str) -> tuple[uuid.UUID, Kind] | None:
        try:
            user, kind = self._signer().loads(token)
            return uuid.UUID(user), Kind(kind)
        except (BadSignature, ValueError, TypeError):
            return None

    def unsubscribe_url(self, user_id: uuid.UUID, kind: Kind) -> str:
        base = self.settings.public_url.rstrip("/")
        return f"{base}/api/v1/notify/unsubscribe?token={self.unsubscribe_token(user_id, kind)}"

    async def close(self) -> None:
        await self.signal.close()
        await self.mailer.close()
        await self.broker.close()


def build_notify_kit(settings: Settings, db: Database, redis_url: str) -> NotifyKit:
    """Nothing connects here; the broker and SMTP connect on first use."""
    notify = settings.notify
    return NotifyKit(
        settings=notify,
        db=db,
        broker=broker_port.from_url(
            notify.broker_url or redis_url,
            prefix=notify.broker_prefix,
            prefetch=notify.broker_prefetch,
        ),
        mailer=Mailer(notify),
        signal=InboxSignal(db),
        secret=settings.secret_key.get_secret_value(),
        genre_audience=ugc.genre_audience_available(settings.ugc),
    )
