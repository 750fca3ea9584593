"""`kinoteka worker`: a queue that does not exist is refused with one line, before any store
is started; the command lines the workers run are built from the fixed queue table."""

from __future__ import annotations

import sys

from typer.testing import CliRunner

from kinoteka.cli import app
from kinoteka.infra.tasks import QUEUES, broker_url
from kinoteka.infra.tasks.celery import worker_argv
from kinoteka.infra.tasks.workers import worker_command


def test_an_unknown_queue_is_refused_in_one_line() -> None:
    result = CliRunner().invoke(app, ["worker", "--queues", "transcoding,nope"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "unknown queue(s) nope" in lines[0]
    assert "Traceback" not in result.output


def test_each_queue_keeps_its_concurrency() -> None:
    assert QUEUES == {"transcoding": 2, "thumbnails": 4, "indexing": 4}
    argv = worker_argv(["thumbnails"], hostname="t@h")
    assert argv[argv.index("--concurrency") + 1] == "4"
    assert argv[argv.index("--queues") + 1] == "thumbnails"
    assert worker_command("transcoding") == [
        sys.executable, "-m", "kinoteka", "worker", "--queues", "transcoding"
    ]  # fmt: skip


def test_the_embedded_redis_socket_is_a_celery_broker_url() -> None:
    assert broker_url("unix:///data/redis/redis.sock") == "redis+socket:///data/redis/redis.sock"
    assert broker_url("redis://cache:6379/0") == "redis://cache:6379/0"
