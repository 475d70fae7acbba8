"""Request ids: 13-digit Unix milliseconds followed by 6 random digits (19 digits in all)."""

from __future__ import annotations

import re
import secrets
import time

__all__ = ["REQUEST_ID_PATTERN", "new_request_id", "request_id_time_ms"]

#: A request id: exactly 19 ASCII digits.
REQUEST_ID_PATTERN = re.compile(r"[0-9]{19}")


def new_request_id(now_ms: int | None = None) -> str:
    """Return a fresh request id; every HTTP attempt needs its own."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{millis:013d}{secrets.randbelow(1_000_000):06d}"


def request_id_time_ms(request_id: str) -> int:
    """Return the millisecond timestamp carried by ``request_id`` (raises ``ValueError`` if malformed)."""
    if not REQUEST_ID_PATTERN.fullmatch(request_id):
        raise ValueError("request id must be 19 digits: 13-digit Unix milliseconds + 6 random digits")
    return int(request_id[:13])
