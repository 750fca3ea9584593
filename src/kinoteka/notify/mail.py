"""Email over SMTP (aiosmtplib): a small pool of reused connections, TLS as configured.

A connection that fails is dropped and the send raises `MailError`; the broker retries the
delivery with backoff, so an SMTP server down for a while delays mail and loses none.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib
import anyio
import structlog

from kinoteka.notify.settings import NotifySettings, SmtpSecurity

log = structlog.get_logger(__name__)


class MailError(Exception):
    """The SMTP server did not take the message."""


def build_message(
    *, sender: str, recipient: str, subject: str, text: str, html: str,
    message_id: str | None = None, headers: Mapping[str, str] | None = None,
) -> EmailMessage:  # fmt: skip
    """A multipart/alternative message: the text body first, the HTML one preferred."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id or make_msgid(domain="kinoteka")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class Mailer:
    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = anyio.Semaphore(settings.smtp_connections)

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout,
            use_tls=s.smtp_security is SmtpSecurity.TLS,
            start_tls=s.smtp_security is SmtpSecurity.STARTTLS,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        )

    async def send(self, message: EmailMessage) -> None:
        async with self._slots:
            client = self._idle.pop() if self._idle else self._client()
            try:
                if not client.is_connected:
                    await client.connect()
                await client.send_message(message)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                client.close()
                raise MailError(f"SMTP {self.settings.smtp_host}:{self.settings.smtp_port}: "
                                f"{error}") from error  # fmt: skip
            except BaseException:  # cancelled mid-command: the connection's state is unknown
                client.close()
                raise
            self._idle.append(client)

    async def ping(self) -> None:
        client = self._client()
        try:
            await client.connect()
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise MailError(f"SMTP: {error}") from error

    async def close(self) -> None:
        while self._idle:
            client = self._idle.pop()
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
