"""The `notify` group of the settings tree (`KINOTEKA_NOTIFY__*`): broker, SMTP, retries."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, SecretStr


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"  # implicit TLS from the first byte (port 465)


class NotifySettings(BaseModel):
    broker_url: str | None = Field(
        default=None,
        description="amqp://… of RabbitMQ; unset: Redis Streams on the app's Redis.",
    )
    broker_prefix: str = Field(
        default="kinoteka",
        pattern=r"^[A-Za-z0-9_.\-]+$",
        description="Names the exchange and queues (RabbitMQ) or keys (Redis) of the broker.",
    )
    broker_prefetch: int = Field(
        # A consumer holding only one email batch left the SMTP connections idle while the
        # batch was claimed, recorded and acknowledged; several let the next batch's claim
        # overlap this one's sends.
        default=256,
        ge=1,
        le=10_000,
        description="Messages a consumer holds at once (RabbitMQ's prefetch; the Redis "
        "consumer's unacknowledged messages), handled concurrently.",
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server for email.")
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_security: SmtpSecurity = Field(
        default=SmtpSecurity.NONE, description="none, starttls or tls (implicit, port 465)."
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout: float = Field(default=10.0, gt=0, description="Seconds per SMTP command.")
    smtp_connections: int = Field(
        default=4, ge=1, le=64, description="SMTP connections kept open and reused."
    )
    send_batch: int = Field(
        default=64, ge=1, le=1000, description="Email deliveries claimed and sent together."
    )
    send_lease: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a claimed email delivery stays with its sender; after that a "
        "sender that died is presumed gone and the delivery is sent again.",
    )
    mail_from: str = Field(default="Kinoteka <no-reply@kinoteka.local>")
    public_url: str = Field(
        default="",
        description="Base URL of links in messages; unset: the address the server listens "
        "on (KINOTEKA_HOST, KINOTEKA_PORT).",
    )
    default_locale: str = Field(default="en", pattern=r"^(en|ru)$")
    max_attempts: int = Field(
        default=8, ge=1, le=50, description="Deliveries of a message before it is parked."
    )
    retry_base_delay: float = Field(
        default=2.0, gt=0, description="First retry delay, seconds; doubles each attempt."
    )
    retry_max_delay: float = Field(default=120.0, gt=0, description="Longest retry delay, s.")
    broadcast_chunk: int = Field(
        # Each step costs a broker round trip and a transaction besides its rows: at 1000 the
        # fan-out ran at about 0.6x the bare chunk writes, at 5000 at about 0.9x.
        default=5000,
        ge=1,
        le=50_000,
        description="Recipients fanned out per broadcast step.",
    )
    poll_interval: float = Field(
        default=1.0, gt=0, le=60, description="Seconds between outbox and schedule passes."
    )
