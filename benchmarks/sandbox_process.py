"""Run the sandbox gateway in its own process for benchmarks, so it does not share the GIL.

Loopback only: the sandbox binds 127.0.0.1 on a free port and is stopped on exit.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox_process(**config: Any) -> Iterator[str]:
    """Start ``yxt-sandbox`` with ``config`` (SandboxConfig fields); yield its base URL."""
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(config, handle)
    proc = subprocess.Popen(
        [sys.executable, "-m", "yxt_provider.sandbox", "--port", str(port), "--config", handle.name,
         "--control", "--log-level", "error"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base_url}/_sandbox/counters", timeout=5)
                break
            except requests.RequestException:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox process did not start") from None
                time.sleep(0.05)
        yield base_url
    finally:
        proc.terminate()
        proc.wait(10)
        os.unlink(handle.name)


def numbers(count: int, start: int = 0, prefix: str = "138") -> list[str]:
    """``count`` distinct valid mobile numbers."""
    return [f"{prefix}{i:08d}" for i in range(start, start + count)]
