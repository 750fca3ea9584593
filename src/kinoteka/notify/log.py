"""The logging notifier: a structured log line per message, the messages kept in memory."""

from __future__ import annotations

from collections import deque

import structlog

from kinoteka.notify.port import Message

log = structlog.get_logger(__name__)


class LogNotifier:
    def __init__(self, *, include_body: bool = False, keep: int = 1000) -> None:
        self.include_body = include_body
        self.sent: deque[Message] = deque(maxlen=keep)

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if self.include_body:
            log.info("notify.sent", kind=message.kind, recipient=message.recipient,
                     subject=message.subject, body=message.body)  # fmt: skip
        else:
            log.info("notify.sent", kind=message.kind, recipient=message.recipient,
                     subject=message.subject)  # fmt: skip

    def last(self, recipient: str, kind: str) -> Message | None:
        """The newest message of `kind` sent to `recipient`."""
        for message in reversed(self.sent):
            if message.recipient == recipient and message.kind == kind:
                return message
        return None
