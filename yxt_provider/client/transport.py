"""Failures below HTTP, said the way a person fixes them: the cause first, then the detail.

``requests`` wraps the real cause three levels deep (``ConnectionError`` → urllib3's
``MaxRetryError`` → ``NewConnectionError`` → ``ConnectionRefusedError``) and its message
puts the useful part last, where truncation cuts it off. :func:`transport_error` digs out
the innermost exception, names what it means (refused, timed out, TLS, unknown host, reset)
with what to do about it, and keeps the outer text as a short detail.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

import requests

from yxt_provider.client.advice import after_lost_answer
from yxt_provider.client.errors import YxtTransportError, truncate_for_message

__all__ = ["innermost_cause", "transport_error"]

_DETAIL_LIMIT = 160


def innermost_cause(exc: BaseException) -> BaseException:
    """The exception at the bottom of ``exc``'s chain (``__cause__``, urllib3's ``reason``, wrapped args).

    :param exc: what ``requests`` raised.
    """
    seen = {id(exc)}
    current = exc
    while True:
        reason = getattr(current, "reason", None)
        wrapped = current.args[0] if current.args else None
        for candidate in (current.__cause__, reason, wrapped, current.__context__):
            if isinstance(candidate, BaseException) and id(candidate) not in seen:
                seen.add(id(candidate))
                current = candidate
                break
        else:
            return current


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _seconds(timeout: object, part: int) -> str:
    """The connect (``part`` 0) or read (1) timeout of a number or ``(connect, read)`` pair, as text."""
    value = timeout[part] if isinstance(timeout, tuple) else timeout
    return f"{value:g} s" if isinstance(value, (int, float)) else f"{value} s"


def _meaning(
    exc: BaseException, cause: BaseException, url: str, timeout: object, what: str
) -> tuple[str, str, str]:
    """``(kind, what happened, what to do)`` for the failure of the call ``what``."""
    text = str(cause)
    if isinstance(exc, requests.ConnectTimeout):
        return (
            "timeout",
            f"no connection within {_seconds(timeout, 0)}",
            "Check the host and port, and any firewall, proxy or IP allow-list between this worker and the gateway",
        )
    if isinstance(exc, requests.Timeout):
        return (
            "timeout",
            f"connected, but no answer within {_seconds(timeout, 1)}",
            f"The gateway is slow or stuck (raise the connection's timeout extra if it is only slow). "
            f"{after_lost_answer(what)}",
        )
    if isinstance(cause, ConnectionRefusedError):
        return (
            "refused",
            "connection refused",
            "Nothing listens there: check the connection's host and port, and that the gateway is up",
        )
    if isinstance(cause, ssl.SSLError) or isinstance(exc, requests.exceptions.SSLError):
        if "WRONG_VERSION_NUMBER" in text and url.startswith("https://"):
            return (
                "tls",
                "TLS handshake failed",
                f"The server does not speak TLS: if the gateway is plain HTTP, write "
                f"http://{_endpoint(url)} in the connection's host (a host without a scheme means https://)",
            )
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return (
                "tls",
                "the gateway's certificate is not trusted",
                "Name the CA bundle that signed it in the connection's ca_bundle extra "
                "(or set verify_ssl false for a test gateway only)",
            )
        return "tls", "TLS handshake failed", "Check that the host and port serve HTTPS"
    if isinstance(cause, socket.gaierror) or "NameResolutionError" in type(cause).__name__:
        return (
            "dns",
            "host name not found",
            "Check the spelling of the connection's host and this worker's DNS",
        )
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or "IncompleteRead" in type(cause).__name__:
        return (
            "reset",
            "the answer was cut off mid-way",
            after_lost_answer(what),
        )
    if isinstance(cause, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)) or (
        "RemoteDisconnected" in type(cause).__name__
    ):
        return (
            "reset",
            "the gateway closed the connection before answering",
            after_lost_answer(what),
        )
    return "other", "request failed", "Check the connection's host and port"


def transport_error(
    what: str, url: str, exc: requests.RequestException, timeout: object
) -> YxtTransportError:
    """Build the :class:`YxtTransportError` for a request that got no HTTP answer.

    The message leads with the endpoint and the cause (``127.0.0.1:9: connection refused
    (ConnectionRefusedError: [Errno 111] Connection refused)``), then what to do, then the
    outer exception, shortened.

    :param what: the call, e.g. ``send serial 2026…``.
    :param url: the URL requested.
    :param exc: what ``requests`` raised.
    :param timeout: the timeout in force, for timeout messages.
    """
    cause = innermost_cause(exc)
    kind, happened, todo = _meaning(exc, cause, url, timeout, what)
    endpoint = _endpoint(url)
    cause_text = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
    detail = truncate_for_message(f"{type(exc).__name__}: {exc}", _DETAIL_LIMIT)
    message = (
        f"{what}: {endpoint}: {happened} ({truncate_for_message(cause_text)}). {todo}. "
        f"[request to {url}; {detail}]"
    )
    return YxtTransportError(message, endpoint=endpoint, kind=kind, cause=f"{happened} ({cause_text})")
