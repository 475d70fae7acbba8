"""Retries: transient then success, exhausted, non-retryable not retried, fresh request id each time."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from yxt_provider.client import YxtClient
from yxt_provider.client import errors as e
from yxt_provider.client.retry import RetrySettings

from .scripted_gateway import Scripted, ScriptedGateway, envelope, scripted_gateway

FAST = RetrySettings(max_attempts=4, initial_wait=0.001, max_wait=0.01, jitter=0.001)
OK_SEND = envelope(0, data={"taskId": "t-1"})


@pytest.fixture
def gateway() -> Iterator[ScriptedGateway]:
    with scripted_gateway() as gw:
        yield gw


def client_for(gateway: ScriptedGateway, retry: RetrySettings = FAST, **kwargs: object) -> YxtClient:
    return YxtClient(gateway.base_url, "100001", "demo_app", "s3cr3t", retry=retry, timeout=5, **kwargs)  # type: ignore[arg-type]


def send(client: YxtClient) -> object:
    return client.send(["13800138000", "13900139000"], "hello", "1000000000001", "20241125120000000001")


@pytest.mark.parametrize(
    "transient",
    [
        envelope(11),
        envelope(20),
        envelope(507),
        Scripted(b"oops", status=500),
        Scripted(b"", status=503),
        Scripted(None),
    ],
    ids=["code11", "code20", "code507", "http500", "http503", "dropped"],
)
def test_transient_then_success(gateway: ScriptedGateway, transient: object) -> None:
    gateway.script(transient, OK_SEND)  # type: ignore[arg-type]
    result = send(client_for(gateway))
    assert result.task_id == "t-1" and result.count == 2  # type: ignore[attr-defined]
    assert len(gateway.requests) == 2
    first, second = (r["headers"] for r in gateway.requests)
    assert first["x-request-id"] != second["x-request-id"]
    assert first["x-sign"] != second["x-sign"]
    # The retried request carries the same serial: an accepted first attempt becomes code 15.
    bodies = [json.loads(r["body"]) for r in gateway.requests]
    assert bodies[0] == bodies[1]


def test_retries_exhausted_raise_last_error(gateway: ScriptedGateway) -> None:
    gateway.script(envelope(11))
    with pytest.raises(e.YxtThrottledError):
        send(client_for(gateway))
    assert len(gateway.requests) == FAST.max_attempts


def test_total_time_bounds_retries(gateway: ScriptedGateway) -> None:
    gateway.script(envelope(20))
    slow = RetrySettings(max_attempts=100, max_elapsed=0.3, initial_wait=0.1, max_wait=0.1, jitter=0)
    with pytest.raises(e.YxtSendFailedError):
        send(client_for(gateway, slow))
    assert 2 <= len(gateway.requests) <= 5


def test_clock_skew_retried_only_once(gateway: ScriptedGateway) -> None:
    gateway.script(envelope(507))
    with pytest.raises(e.YxtClockSkewError, match="clock"):
        send(client_for(gateway))
    assert len(gateway.requests) == 2


@pytest.mark.parametrize("code", [1, 2, 3, 5, 9, 13, 14, 15, 28, 35, 39, 505])
def test_non_retryable_codes_are_not_retried(gateway: ScriptedGateway, code: int) -> None:
    gateway.script(envelope(code))
    with pytest.raises(e.YxtResultError):
        send(client_for(gateway))
    assert len(gateway.requests) == 1


def test_on_retry_callback_sees_each_failure(gateway: ScriptedGateway) -> None:
    seen: list[tuple[type, int]] = []
    gateway.script(envelope(11), envelope(11), OK_SEND)
    client = client_for(gateway, on_retry=lambda exc, attempt: seen.append((type(exc), attempt)))
    send(client)
    assert seen == [(e.YxtThrottledError, 1), (e.YxtThrottledError, 2)]


def test_no_data_is_empty_not_error(gateway: ScriptedGateway) -> None:
    gateway.script(envelope(38))
    client = client_for(gateway)
    assert client.fetch_receipts() == []
    page = client.query_replies()
    assert page.replies == [] and page.max_id is None
    assert len(gateway.requests) == 2


def test_no_data_on_send_is_an_error(gateway: ScriptedGateway) -> None:
    gateway.script(envelope(38))
    with pytest.raises(e.YxtNoDataError):
        send(client_for(gateway))
