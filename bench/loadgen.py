"""A small HTTP load generator for the benchmarks: closed-loop throughput, open-loop latency."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import psutil


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.rps:,.0f} req/s, p50 {self.percentile(0.5):.1f} ms, "
            f"p99 {self.percentile(0.99):.1f} ms, errors {self.errors}"
        )


async def _closed_loop(
    base: str, paths: Callable[[int], str], total: int, concurrency: int
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            for number in counter:
                started = time.perf_counter()
                response = await client.get(paths(number))
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return LoadResult(total, seconds, latencies, errors)


async def _open_loop(
    base: str, paths: Callable[[int], str], rate: float, seconds: float
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one(number: int) -> None:
            nonlocal errors
            started = time.perf_counter()
            response = await client.get(paths(number))
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                errors += 1

        tasks = []
        begin = time.perf_counter()
        count = int(rate * seconds)
        for number in range(count):
            delay = begin + number / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(number)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    return LoadResult(count, elapsed, latencies, errors)


def closed_loop(
    base: str, paths: Callable[[int], str], total: int, concurrency: int = 16
) -> LoadResult:
    """As many requests as the server takes, `concurrency` at a time."""
    return asyncio.run(_closed_loop(base, paths, total, concurrency))


def open_loop(base: str, paths: Callable[[int], str], rate: float, seconds: float) -> LoadResult:
    """Requests sent at a fixed `rate` whatever the answers' pace (latency under load)."""
    return asyncio.run(_open_loop(base, paths, rate, seconds))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def server_process(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """Run an HTTP server process until it answers on `port`; stop it afterwards."""
    with served_process(command, env, port) as (base, _):
        yield base


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


@contextmanager
def served_process(command: list[str], env: dict[str, str], port: int) -> Iterator[tuple[str, int]]:
    """As `server_process`, also giving the server's process id (to read its CPU time)."""
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not answer in time") from None
                time.sleep(0.1)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def python() -> str:
    return sys.executable


def median(values: list[float]) -> float:
    return statistics.median(values)
