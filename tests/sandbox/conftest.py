"""Helpers for the sandbox tests: hand-built signed calls, to exercise each protocol rule."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import requests

from yxt_provider.client.request_id import new_request_id
from yxt_provider.client.signing import sign
from yxt_provider.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_SP_CODE

CATCH_ALL = "1000000000001"


def raw_call(
    base_url: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    sp_code: str = DEFAULT_SP_CODE,
    app_key: str = DEFAULT_APP_KEY,
    secret: str = DEFAULT_APP_SECRET,
    request_id: str | None = None,
    omit: Iterable[str] = (),
    signature: str | None = None,
    uppercase: bool = False,
) -> dict[str, Any]:
    """POST a correctly signed call (unless told otherwise) and return the envelope; asserts HTTP 200."""
    rid = request_id or new_request_id()
    headers = {
        "Content-Type": "application/json;charset=UTF-8",
        "x-sp-code": sp_code,
        "x-app-key": app_key,
        "x-request-id": rid,
        "x-sign": signature or sign(sp_code, app_key, secret, rid, body, uppercase=uppercase),
    }
    for name in omit:
        del headers[name]
    data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    response = requests.post(base_url + path, data=data, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    envelope: dict[str, Any] = response.json()
    assert set(envelope) == {"code", "msg", "ok", "data"}
    assert envelope["ok"] is (envelope["code"] == 0)
    return envelope


def send_body(
    numbers: Iterable[str], serial: str, content: str = "hello", template_id: str = CATCH_ALL
) -> dict[str, str]:
    """A send body, without the client's validation (so tests can break it)."""
    return {
        "type": "1",
        "userNumber": ",".join(numbers),
        "templateId": template_id,
        "messageContent": content,
        "serialNumber": serial,
    }


def serial(n: int) -> str:
    """The ``n``-th 20-digit test serial."""
    return f"{20240101000000000000 + n:020d}"


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
