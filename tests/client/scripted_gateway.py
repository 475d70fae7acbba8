"""A loopback HTTP server that answers with scripted replies, for client error-path tests.

The sandbox implements the real protocol; this server exists to make the gateway say things
the sandbox never would (every result code, broken envelopes) over real HTTP.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    """One canned answer: an HTTP status, a raw body (``None`` drops the connection), extra headers."""

    body: bytes | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ScriptedGateway:
    """Records every request and answers from a queue; the last answer repeats."""

    base_url: str = ""
    answers: deque[Scripted] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def script(self, *answers: Scripted | dict[str, Any]) -> None:
        """Queue answers; dicts are sent as JSON envelopes."""
        for answer in answers:
            if isinstance(answer, dict):
                answer = Scripted(json.dumps(answer, ensure_ascii=False).encode())
            self.answers.append(answer)

    def next_answer(self) -> Scripted:
        return self.answers.popleft() if len(self.answers) > 1 else self.answers[0]


def envelope(code: int, data: Any = None, msg: str = "") -> dict[str, Any]:
    """A protocol envelope with ``code``."""
    return {
        "code": code,
        "msg": msg or ("success" if code == 0 else f"error {code}"),
        "ok": code == 0,
        "data": data,
    }


@contextmanager
def scripted_gateway() -> Iterator[ScriptedGateway]:
    """Serve a :class:`ScriptedGateway` on a free loopback port."""
    gateway = ScriptedGateway()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            gateway.requests.append({"path": self.path, "headers": dict(self.headers), "body": raw})
            answer = gateway.next_answer()
            if answer.body is None:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    gateway.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
