"""A uvicorn HTTP protocol that lets the app drop a connection without answering.

ASGI has no way to abort a connection, and an exception in the app becomes an HTTP 500.
The sandbox needs a real dropped connection (the client must see a connection error), so
its protocol class puts the connection's asyncio transport in the ASGI scope under
``"yxt.transport"``; :func:`drop_connection` aborts it.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["TRANSPORT_SCOPE_KEY", "cut_answer", "drop_connection", "sandbox_http_protocol"]

#: The ASGI scope key under which the sandbox's HTTP protocol exposes its transport to the app.
TRANSPORT_SCOPE_KEY = "yxt.transport"


def _base_protocol() -> type[Any]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:  # httptools is optional in uvicorn
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


def sandbox_http_protocol() -> type[asyncio.Protocol]:
    """The protocol class to pass as ``uvicorn.Config(http=...)``."""
    base = _base_protocol()

    class SandboxHttpProtocol(base):  # type: ignore[misc, valid-type]
        """uvicorn's HTTP protocol, exposing each connection's transport to the app."""

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            this: Any = self  # the base class is only known at runtime
            app = this.app

            # uvicorn reads self.app per request, so wrapping it per connection is enough.
            async def with_transport(scope: Any, receive: Any, send: Any) -> None:
                scope[TRANSPORT_SCOPE_KEY] = transport
                await app(scope, receive, send)

            this.app = with_transport

    return SandboxHttpProtocol


async def cut_answer(scope: Any, body: bytes, content_type: str) -> bool:
    """Send the start of a 200 answer (status, headers, half of ``body``), then close the connection.

    The peer reads a ``Content-Length`` it never gets: an answer cut off mid-way. Returns
    ``False`` when the server is not running the sandbox protocol.
    """
    transport = scope.get(TRANSPORT_SCOPE_KEY)
    if transport is None:
        return False
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    transport.write(head.encode("latin-1") + body[: len(body) // 2])
    transport.close()  # a close, not an abort: the bytes written go out first
    await asyncio.sleep(0)
    return True


async def drop_connection(scope: Any) -> bool:
    """Abort the connection behind ``scope`` with no answer (the peer sees a reset).

    Returns ``False`` when the server is not running the sandbox protocol.
    """
    transport = scope.get(TRANSPORT_SCOPE_KEY)
    if transport is None:
        return False
    transport.abort()
    # Let uvicorn notice the disconnect so it does not try to answer on the dead transport.
    await asyncio.sleep(0)
    return True
