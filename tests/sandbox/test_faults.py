"""Transport faults: latency, HTTP 500, dropped connections, accept-then-drop; skip/times/probability."""

from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox.conftest import CATCH_ALL, send_body, serial
from yxt_provider.client import YxtClient
from yxt_provider.client.client import PATH_SEND
from yxt_provider.client.errors import YxtDuplicateSerialError, YxtProtocolError, YxtTransportError
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
