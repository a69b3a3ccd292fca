"""A real S3 endpoint for tests: moto in server mode, a separate process on 127.0.0.1.

Every request it serves is logged (werkzeug's access log) to a file the tests read, so a test
can count the GETs of one object: what "never downloaded" means, seen from the server.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "docingest-test", "AWS_SECRET_ACCESS_KEY": "docingest-test"}


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    log: Path

    def env(self) -> dict[str, str]:
        """The environment a process needs to reach this server (what a worker is given)."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION}

    def requests(self, method: str, key: str) -> int:
        """How many `method` requests named exactly object `key` ("bucket/path") so far."""
        pattern = re.compile(rf'"(?:\x1b\[[\d;]*m)*{method} /{re.escape(key)}(\?[^ ]*)? HTTP')
        return sum(1 for line in self.log.read_text().splitlines() if pattern.search(line))

    def create_bucket(self) -> str:
        name = f"docingest-{uuid.uuid4().hex[:12]}"
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=10):
            pass
        return name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_s3_server(log: Path, *, check_credentials: bool = False) -> Iterator[S3Server]:
    """moto's server; with `check_credentials`, one that refuses keys it does not know (moto
    checks signatures against its IAM users after INITIAL_NO_AUTH_ACTION_COUNT requests)."""
    port = _free_port()
    auth = {"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if check_credentials else {}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore", **auth},
        )
    server = S3Server(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{server.endpoint}/", timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers (an unsigned request is refused when it checks keys)
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)
