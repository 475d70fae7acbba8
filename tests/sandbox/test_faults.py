"""Faults: latency, HTTP 500, dropped connections, accept-then-*, result codes, spoiled answers; skip/times/probability."""

from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox.conftest import CATCH_ALL, send_body, serial, wait_for
from yxt_provider.client import YxtClient
from yxt_provider.client.client import PATH_SEND
from yxt_provider.client.errors import (
    YxtClockSkewError,
    YxtDuplicateSerialError,
    YxtProtocolError,
    YxtResultError,
    YxtSendFailedError,
    YxtThrottledError,
    YxtTransportError,
)
from yxt_provider.client.retry import RetrySettings
from yxt_provider.sandbox import Fault, SandboxServer
from yxt_provider.sandbox.faults import FaultPlan

ONCE = RetrySettings(max_attempts=1)


@pytest.fixture
def raw_client(yxt_sandbox: SandboxServer):
    with yxt_sandbox.client(retry=ONCE) as client:
        yield client


def test_latency(yxt_sandbox: SandboxServer, raw_client: YxtClient) -> None:
    yxt_sandbox.configure(faults=[Fault("report", "latency", seconds=0.25, times=1)])
    started = time.monotonic()
    assert raw_client.fetch_receipts() == []
    assert time.monotonic() - started >= 0.25
    started = time.monotonic()
    raw_client.fetch_receipts()
    assert time.monotonic() - started < 0.25


def test_http_500(yxt_sandbox: SandboxServer, raw_client: YxtClient) -> None:
    yxt_sandbox.configure(faults=[Fault("send", "http_500", times=1)])
    with pytest.raises(YxtProtocolError) as info:
        raw_client.send(["13800138000"], "hi", CATCH_ALL, serial(1))
    assert info.value.status == 500
    assert yxt_sandbox.accepted() == []
    assert yxt_sandbox.counters()["requests"]["send"] == {"http_500": 1}
    raw_client.send(["13800138000"], "hi", CATCH_ALL, serial(1))
    assert len(yxt_sandbox.accepted()) == 1


def test_drop_is_a_connection_error_and_accepts_nothing(
    yxt_sandbox: SandboxServer, raw_client: YxtClient
) -> None:
    yxt_sandbox.configure(faults=[Fault("send", "drop", times=1)])
    with pytest.raises(requests.ConnectionError):
        requests.post(yxt_sandbox.base_url + PATH_SEND, json=send_body(["13800138000"], serial(1)), timeout=5)
    assert yxt_sandbox.accepted() == []
    assert yxt_sandbox.counters()["requests"]["send"] == {"drop": 1}


def test_client_sees_drop_as_transport_error(yxt_sandbox: SandboxServer, raw_client: YxtClient) -> None:
    yxt_sandbox.configure(faults=[Fault("report", "drop", times=1)])
    with pytest.raises(YxtTransportError):
        raw_client.fetch_receipts()
    assert raw_client.fetch_receipts() == []  # the keep-alive pool recovers


def test_accept_then_drop_records_the_send(yxt_sandbox: SandboxServer, raw_client: YxtClient) -> None:
    yxt_sandbox.configure(faults=[Fault("send", "accept_then_drop", times=1)])
    with pytest.raises(YxtTransportError):
        raw_client.send(["13800138000", "13900139000"], "hi", CATCH_ALL, serial(1))
    [accepted] = yxt_sandbox.accepted()
    assert accepted.numbers == ("13800138000", "13900139000")
    # The retry under the same serial is the idempotency signal, not a second send.
    with pytest.raises(YxtDuplicateSerialError):
        raw_client.send(["13800138000", "13900139000"], "hi", CATCH_ALL, serial(1))
    assert len(yxt_sandbox.accepted()) == 1


def test_accept_then_drop_on_report_loses_the_page(yxt_sandbox: SandboxServer, raw_client: YxtClient) -> None:
    raw_client.send(["13800138000"], "hi", CATCH_ALL, serial(1))
    yxt_sandbox.configure(faults=[Fault("report", "accept_then_drop", times=1)])
    with pytest.raises(YxtTransportError):
        raw_client.fetch_receipts()
    assert raw_client.fetch_receipts() == []
    assert yxt_sandbox.counters()["receipts"]["handed_out"] == 1


def test_client_retry_survives_faults(yxt_sandbox: SandboxServer) -> None:
    yxt_sandbox.configure(faults=[Fault("send", "http_500", times=1), Fault("send", "drop", skip=1, times=1)])
    fast = RetrySettings(max_attempts=4, initial_wait=0.01, max_wait=0.02, jitter=0.0)
    with yxt_sandbox.client(retry=fast) as client:
        client.send(["13800138000"], "hi", CATCH_ALL, serial(1))
    assert len(yxt_sandbox.accepted()) == 1
    assert yxt_sandbox.counters()["requests"]["send"] == {"http_500": 1, "drop": 1, "0": 1}


def test_skip_and_times(yxt_sandbox: SandboxServer, raw_client: YxtClient) -> None:
    yxt_sandbox.configure(faults=[Fault("*", "http_500", skip=2, times=2)])
    outcomes = []
    for _ in range(6):
        try:
            raw_client.fetch_receipts()
            outcomes.append("ok")
        except YxtProtocolError:
            outcomes.append("500")
    assert outcomes == ["ok", "ok", "500", "500", "ok", "ok"]


def test_fault_plan_probability_is_seeded() -> None:
    def hits(seed: int) -> list[str | None]:
        plan = FaultPlan((Fault("send", "drop", probability=0.3),), seed)
        return [plan.next_action("send").kind for _ in range(1000)]

    first = hits(1)
    assert first == hits(1)
    assert 200 < first.count("drop") < 400
    plan = FaultPlan((Fault("send", "drop"),), 0)
    assert plan.next_action("report").kind is None
    assert plan.next_action("send").kind == "drop"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"endpoint": "nope", "kind": "drop"},
        {"endpoint": "send", "kind": "explode"},
        {"endpoint": "send", "kind": "latency"},
        {"endpoint": "send", "kind": "drop", "probability": 2},
        {"endpoint": "send", "kind": "drop", "skip": -1},
    ],
)
def test_invalid_faults_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Fault(**kwargs)


@pytest.mark.parametrize(
    ("kind", "error", "code"),
    [
        ("code_11", YxtThrottledError, 11),
        ("code_20", YxtSendFailedError, 20),
        ("clock_skew", YxtClockSkewError, 507),
    ],
)
def test_result_code_faults_answer_without_acting(
    yxt_sandbox: SandboxServer, raw_client: YxtClient, kind: str, error: type[YxtResultError], code: int
) -> None:
    yxt_sandbox.configure(faults=[Fault("send", kind, times=1)])
    with pytest.raises(error) as info:
        raw_client.send(["13800138000"], "hi", CATCH_ALL, serial(1))
    assert info.value.code == code
    assert yxt_sandbox.accepted() == []
    assert yxt_sandbox.counters()["requests"]["send"] == {kind: 1}
    raw_client.send(["13800138000"], "hi", CATCH_ALL, serial(1))  # not a duplicate: nothing was taken
    assert len(yxt_sandbox.accepted()) == 1


def test_code_11_storm_then_success(yxt_sandbox: SandboxServer) -> None:
    yxt_sandbox.configure(faults=[Fault("report", "code_11", times=3)])
    fast = RetrySettings(max_attempts=4, initial_wait=0.01, max_wait=0.02, jitter=0.0)
    with yxt_sandbox.client(retry=fast) as client:
        assert client.fetch_receipts() == []
    assert yxt_sandbox.counters()["requests"]["report"] == {"code_11": 3, "38": 1}


@pytest.mark.parametrize(
    ("kind", "status", "content_type", "says"),
    [
        ("html_error", 502, "text/html", "502 Bad Gateway"),
        ("malformed_json", 200, "application/json", '{"code":0'),
        ("wrong_type_code", 200, "application/json", '"code":"0"'),
        ("wrong_type_data", 200, "application/json", '"data":"OK"'),
    ],
)
def test_spoiled_answers_on_the_wire(
    yxt_sandbox: SandboxServer, kind: str, status: int, content_type: str, says: str
) -> None:
    yxt_sandbox.configure(faults=[Fault("send", kind, times=1)])
    response = requests.post(
        yxt_sandbox.base_url + PATH_SEND, json=send_body(["13800138000"], serial(1)), timeout=5
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith(content_type)
    assert says in response.text
    if kind == "malformed_json":
        with pytest.raises(ValueError):
            response.json()
    assert yxt_sandbox.accepted() == []
    assert yxt_sandbox.counters()["requests"]["send"] == {kind: 1}


@pytest.mark.parametrize("kind", ["html_error", "malformed_json", "wrong_type_code", "wrong_type_data"])
def test_client_sees_spoiled_answers_as_protocol_errors(
    yxt_sandbox: SandboxServer, raw_client: YxtClient, kind: str
) -> None:
    yxt_sandbox.configure(faults=[Fault("query", kind, times=1)])
    with pytest.raises(YxtProtocolError):
        raw_client.query_replies()
    assert raw_client.query_replies().replies == []


def test_accept_then_stall_acts_then_outlasts_the_client(yxt_sandbox: SandboxServer) -> None:
    yxt_sandbox.configure(faults=[Fault("send", "accept_then_stall", times=1, seconds=0.6)])
    with (
        yxt_sandbox.client(retry=ONCE, timeout=(2.0, 0.2)) as client,
        pytest.raises(YxtTransportError) as info,
    ):
        client.send(["13800138000"], "hi", CATCH_ALL, serial(1))
    assert info.value.kind == "timeout"
    assert len(yxt_sandbox.accepted()) == 1
    assert yxt_sandbox.counters()["in_flight"] == 1  # still holding the answer
    wait_for(lambda: yxt_sandbox.counters()["in_flight"] == 0, timeout=5)
    assert yxt_sandbox.counters()["requests"]["send"] == {"0": 1, "accept_then_stall": 1}


def test_accept_then_stall_needs_seconds() -> None:
    with pytest.raises(ValueError, match="accept_then_stall"):
        Fault("send", "accept_then_stall")
