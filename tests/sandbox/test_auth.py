"""Headers, signature, request-id freshness, IP allow-list and rate limiting, on every endpoint."""

from __future__ import annotations

import time

import pytest

from tests.sandbox.conftest import raw_call, send_body, serial
from yxt_provider.client.client import PATH_CONFIRM, PATH_QUERY, PATH_REPORT, PATH_SEND
from yxt_provider.client.errors import YxtThrottledError
from yxt_provider.client.request_id import new_request_id
from yxt_provider.client.retry import RetrySettings
from yxt_provider.client.signing import sign
from yxt_provider.sandbox import SandboxServer

ALL_PATHS = [PATH_SEND, PATH_REPORT, PATH_QUERY, PATH_CONFIRM]


def _body(path: str) -> dict | None:
    if path == PATH_SEND:
        return send_body(["13800138000"], serial(1))
    return {"maxId": "1"} if path == PATH_CONFIRM else None


@pytest.mark.parametrize("path", ALL_PATHS)
def test_correct_call_is_not_rejected(yxt_sandbox: SandboxServer, path: str) -> None:
    # report/query have nothing yet: 38 is the correct answer, and proves auth passed.
    assert raw_call(yxt_sandbox.base_url, path, _body(path))["code"] in (0, 38)


@pytest.mark.parametrize("path", ALL_PATHS)
def test_bad_signature_is_35(yxt_sandbox: SandboxServer, path: str) -> None:
    assert raw_call(yxt_sandbox.base_url, path, _body(path), secret="wrong")["code"] == 35
    assert yxt_sandbox.accepted() == []


def test_signature_covers_the_body(yxt_sandbox: SandboxServer) -> None:
    body = send_body(["13800138000"], serial(1))
    rid = new_request_id()

    other = sign("100001", "demo_app", "s3cr3t", rid, {**body, "userNumber": "13900139000"})
    assert raw_call(yxt_sandbox.base_url, PATH_SEND, body, request_id=rid, signature=other)["code"] == 35


def test_uppercase_signature_accepted_only_when_configured(yxt_sandbox: SandboxServer) -> None:
    url = yxt_sandbox.base_url
    assert raw_call(url, PATH_REPORT, None, uppercase=True)["code"] == 38
    yxt_sandbox.configure(accept_uppercase_sign=False)
    assert raw_call(url, PATH_REPORT, None, uppercase=True)["code"] == 35
    assert raw_call(url, PATH_REPORT, None)["code"] == 38


def test_empty_body_and_empty_object_both_sign_as_empty(yxt_sandbox: SandboxServer) -> None:
    assert raw_call(yxt_sandbox.base_url, PATH_QUERY, {})["code"] == 38
    assert raw_call(yxt_sandbox.base_url, PATH_QUERY, None)["code"] == 38


def test_wrong_app_key_is_3(yxt_sandbox: SandboxServer) -> None:
    assert raw_call(yxt_sandbox.base_url, PATH_REPORT, None, app_key="someone")["code"] == 3


def test_wrong_sp_code_is_2(yxt_sandbox: SandboxServer) -> None:
    assert raw_call(yxt_sandbox.base_url, PATH_REPORT, None, sp_code="100002")["code"] == 2


@pytest.mark.parametrize("header", ["x-sp-code", "x-app-key", "x-request-id", "x-sign"])
def test_missing_header_is_505(yxt_sandbox: SandboxServer, header: str) -> None:
    envelope = raw_call(yxt_sandbox.base_url, PATH_SEND, _body(PATH_SEND), omit=[header])
    assert envelope["code"] == 505
    assert header in envelope["msg"]


@pytest.mark.parametrize("request_id", ["123", "17325000000001234567", "173250000000012345a"])
def test_malformed_request_id_is_1(yxt_sandbox: SandboxServer, request_id: str) -> None:
    assert raw_call(yxt_sandbox.base_url, PATH_REPORT, None, request_id=request_id)["code"] == 1


@pytest.mark.parametrize("offset_s", [-301, 301])
def test_request_id_more_than_five_minutes_off_is_507(yxt_sandbox: SandboxServer, offset_s: int) -> None:
    rid = new_request_id(int((time.time() + offset_s) * 1000))
    assert raw_call(yxt_sandbox.base_url, PATH_REPORT, None, request_id=rid)["code"] == 507
    fresh = new_request_id(int((time.time() - 240) * 1000))
    assert raw_call(yxt_sandbox.base_url, PATH_REPORT, None, request_id=fresh)["code"] == 38


def test_ip_allow_list_is_5(yxt_sandbox: SandboxServer) -> None:
    yxt_sandbox.configure(allowed_ips=["10.0.0.1"])
    assert raw_call(yxt_sandbox.base_url, PATH_REPORT, None)["code"] == 5
    yxt_sandbox.configure(allowed_ips=["10.0.0.1", "127.0.0.1"])
    assert raw_call(yxt_sandbox.base_url, PATH_REPORT, None)["code"] == 38


def test_rate_limit_is_11_after_the_burst(yxt_sandbox: SandboxServer) -> None:
    yxt_sandbox.configure(rate_limit=1.0, burst=3)
    codes = [raw_call(yxt_sandbox.base_url, PATH_REPORT, None)["code"] for _ in range(5)]
    assert codes == [38, 38, 38, 11, 11]
    assert yxt_sandbox.counters()["requests"]["report"] == {"38": 3, "11": 2}


def test_rate_limit_refills(yxt_sandbox: SandboxServer) -> None:
    yxt_sandbox.configure(rate_limit=20.0, burst=1)
    url = yxt_sandbox.base_url
    assert raw_call(url, PATH_REPORT, None)["code"] == 38
    assert raw_call(url, PATH_REPORT, None)["code"] == 11
    time.sleep(0.1)  # two tokens' worth at 20/s
    assert raw_call(url, PATH_REPORT, None)["code"] == 38


def test_rate_limit_only_on_configured_endpoints(yxt_sandbox: SandboxServer) -> None:
    yxt_sandbox.configure(rate_limit=0.001, burst=1, rate_limit_endpoints=["send"])
    url = yxt_sandbox.base_url
    assert [raw_call(url, PATH_REPORT, None)["code"] for _ in range(3)] == [38, 38, 38]
    assert raw_call(url, PATH_SEND, send_body(["13800138000"], serial(1)))["code"] == 0
    assert raw_call(url, PATH_SEND, send_body(["13800138000"], serial(2)))["code"] == 11


def test_client_sees_throttling(yxt_sandbox: SandboxServer) -> None:
    yxt_sandbox.configure(rate_limit=0.001, burst=1)
    with yxt_sandbox.client(retry=RetrySettings(max_attempts=1)) as client:
        client.fetch_receipts()
        with pytest.raises(YxtThrottledError):
            client.fetch_receipts()
