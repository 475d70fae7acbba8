"""Running the sandbox in-process: a uvicorn server on a free loopback port in a background thread."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from yxt_provider.sandbox.config import SandboxConfig
from yxt_provider.sandbox.state import AcceptedRequest, PlannedReceipt, SandboxState

__all__ = ["SandboxServer", "bind_socket", "build_uvicorn_server", "run_sandbox"]

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """Bind a listening TCP socket (port 0: a free one, chosen by the OS)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def build_uvicorn_server(
    state: SandboxState,
    *,
    log_level: str = "warning",
    access_log: bool = False,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> Any:
    """A ``uvicorn.Server`` serving the sandbox app with the connection-dropping protocol.

    :param certfile: PEM certificate (chain) to serve HTTPS with; plain HTTP without it.
    :param keyfile: PEM private key of ``certfile`` (omit when ``certfile`` holds it too).
    """
    import uvicorn

    from yxt_provider.sandbox.app import create_app
    from yxt_provider.sandbox.protocol import sandbox_http_protocol

    config = uvicorn.Config(
        create_app(state),
        http=sandbox_http_protocol(),
        lifespan="off",
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=2,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    return uvicorn.Server(config)


class SandboxServer:
    """A running sandbox gateway and direct access to its state.

    :param base_url: e.g. ``http://127.0.0.1:54321``; use it as both send and info base URL.
    :param state: the live state (for anything the helpers below do not cover).
    """

    def __init__(self, base_url: str, state: SandboxState) -> None:
        self.base_url = base_url
        self.state = state

    def __repr__(self) -> str:
        return f"SandboxServer(base_url={self.base_url!r})"

    @property
    def config(self) -> SandboxConfig:
        """The configuration in force."""
        return self.state.config

    def reset(self, config: SandboxConfig | None = None) -> None:
        """Forget all state; back to the starting configuration (or ``config``, which becomes the new start)."""
        self.state.reset(config)

    def configure(self, **changes: Any) -> SandboxConfig:
        """Change configuration fields at runtime (see :class:`SandboxConfig`); returns the new config."""
        return self.state.configure(**changes)

    def accepted(self) -> list[AcceptedRequest]:
        """Every accepted send request, in order: the witness of exactly-once sending."""
        return self.state.accepted()

    def truth(self) -> list[PlannedReceipt]:
        """Per accepted message, the receipt result it will get (``None``: never)."""
        return self.state.truth()

    def expected_delivery(self, serials: Iterable[str]) -> dict[str, Any]:
        """What a delivery report of the messages sent under ``serials`` must say in the end.

        Counts from the ground truth: ``sent``, ``delivered``, ``failed``, ``failed_by_code``
        (result → count) and ``pending`` (messages that will never get a receipt). Compare a
        pipeline's report with it once every receipt that will come has been read.

        :param serials: the serial numbers of the campaign's batches.
        """
        wanted = set(serials)
        results = [t.result for t in self.truth() if t.serial_number in wanted]
        failed = Counter(r for r in results if r not in (0, None))
        return {
            "sent": len(results),
            "delivered": results.count(0),
            "failed": sum(failed.values()),
            "failed_by_code": dict(sorted(failed.items())),
            "pending": results.count(None),
        }

    def inject_reply(
        self,
        call_mdn: str,
        content: str,
        user_number: str = "",
        reply_time: datetime | str | None = None,
    ) -> str:
        """Queue an inbound reply; returns its id. See :meth:`SandboxState.inject_reply`."""
        return self.state.inject_reply(call_mdn, content, user_number=user_number, reply_time=reply_time)

    def counters(self) -> dict[str, Any]:
        """Calls per endpoint and outcome, accepted totals, receipt and reply queues, balance."""
        return self.state.counters()

    def client(self, **kwargs: Any) -> Any:
        """A :class:`~yxt_provider.client.YxtClient` for this sandbox's account (``kwargs`` go to it)."""
        from yxt_provider.client import YxtClient

        cfg = self.config
        return YxtClient(self.base_url, cfg.sp_code, cfg.app_key, cfg.app_secret, **kwargs)


@contextlib.contextmanager
def run_sandbox(
    config: SandboxConfig | None = None,
    *,
    certfile: str | os.PathLike[str] | None = None,
    keyfile: str | os.PathLike[str] | None = None,
) -> Iterator[SandboxServer]:
    """Serve a sandbox gateway on a free port of 127.0.0.1 for the duration of the ``with`` block.

    :param config: the starting configuration (defaults: the demo account).
    :param certfile: serve HTTPS with this PEM certificate; ``base_url`` is then ``https://``.
    :param keyfile: the certificate's PEM private key.

    >>> with run_sandbox() as sandbox:  # doctest: +SKIP
    ...     client = sandbox.client()
    """
    state = SandboxState(config)
    sock = bind_socket()
    port = sock.getsockname()[1]
    server = build_uvicorn_server(
        state,
        certfile=None if certfile is None else os.fspath(certfile),
        keyfile=None if keyfile is None else os.fspath(keyfile),
    )
    scheme = "http" if certfile is None else "https"
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"yxt-sandbox-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the YXT sandbox did not start on 127.0.0.1:{port}")
            time.sleep(0.005)
        yield SandboxServer(f"{scheme}://127.0.0.1:{port}", state)
    finally:
        server.should_exit = True
        thread.join(_STOP_TIMEOUT)
        sock.close()
