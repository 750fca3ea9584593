"""Email over SMTP (aiosmtplib): a small pool of reused connections, TLS as configured.

A connection that fails is dropped and the send raises `MailError`; the broker retries the
delivery with backoff, so an SMTP server down for a while delays mail and loses none.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate, make_msgid, parseaddr

import aiosmtplib
import anyio
import structlog

from kinoteka.notify.settings import NotifySettings, SmtpSecurity

log = structlog.get_logger(__name__)


class MailError(Exception):
    """The SMTP server did not take the message."""


_BARE_ADDRESS = re.compile(r"[!#-'*+\-/-9=?A-Z^-~.]+@[A-Za-z0-9.\-]+")


@dataclass(frozen=True)
class OutgoingMail:
    """A message ready for the wire: the envelope and the MIME bytes."""

    sender: str
    """The envelope sender (the address of `From`)."""
    recipient: str
    data: bytes


def _header(value: str) -> str:
    """A header value: as is when ASCII, else RFC 2047 encoded words."""
    if value.isascii():
        return " ".join(value.split())
    return Header(value, "utf-8").encode(linesep="\r\n")


def _address(value: str) -> tuple[str, str]:
    """The header form of an address and the bare address (for the envelope)."""
    if "\r" in value or "\n" in value:
        raise MailError(f"an address with a line break: {value!r}")
    if value.isascii() and "<" not in value and "," not in value and '"' not in value:
        return value.strip(), value.strip()  # a bare address, the usual recipient
    name, address = parseaddr(value)
    return (formataddr((name, address), charset="utf-8") if name else address), address


def _part(subtype: str, content: str) -> str:
    encoded = base64.encodebytes(content.encode()).decode().replace("\n", "\r\n")
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}")  # fmt: skip


def build_message(
    *, sender: str, recipient: str, subject: str, text: str, html: str,
    message_id: str | None = None, headers: Mapping[str, str] | None = None,
) -> OutgoingMail:  # fmt: skip
    """A multipart/alternative message: the text body first, the HTML one preferred.

    Written out directly (headers, two base64 parts) rather than through `email.message`,
    whose policy machinery cost several milliseconds of CPU per message: the price of a
    broadcast's mail."""
    boundary = f"=_kinoteka_{uuid.uuid4().hex}"
    (from_header, from_address), (to_header, to_address) = _address(sender), _address(recipient)
    lines = [
        f"From: {from_header}",
        f"To: {to_header}",
        f"Subject: {_header(subject)}",
        f"Date: {formatdate(localtime=False, usegmt=True)}",
        f"Message-ID: {message_id or make_msgid(domain='kinoteka')}",
        *(f"{name}: {_header(value)}" for name, value in (headers or {}).items()),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    body = (f"--{boundary}\r\n{_part('plain', text)}--{boundary}\r\n{_part('html', html)}"
            f"--{boundary}--\r\n")  # fmt: skip
    data = "\r\n".join(lines) + "\r\n\r\n" + body
    return OutgoingMail(from_address, to_address, data.encode())


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

    async def send(self, message: OutgoingMail) -> None:
        async with self._slots:
            client = self._idle.pop() if self._idle else self._client()
            try:
                if not client.is_connected:
                    await client.connect()
                await client.sendmail(message.sender, [message.recipient], message.data)
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
