"""Every result code reaches the caller as its class; broken replies get their own errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import requests

from yxt_provider.client import YxtClient
from yxt_provider.client import errors as e
from yxt_provider.client.retry import RetrySettings

from .scripted_gateway import Scripted, ScriptedGateway, envelope, scripted_gateway

SECRET = "s3cr3t-do-not-leak"
NO_RETRY = RetrySettings(max_attempts=1)

CODE_CLASSES = {
    1: e.YxtParameterError,
    2: e.YxtInvalidAccountError,
    3: e.YxtWrongCredentialsError,
    5: e.YxtIpNotAllowedError,
    9: e.YxtTooManyNumbersError,
    11: e.YxtThrottledError,
    13: e.YxtBalanceExhaustedError,
    14: e.YxtSerialFormatError,
    15: e.YxtDuplicateSerialError,
    20: e.YxtSendFailedError,
    28: e.YxtTemplateMismatchError,
    35: e.YxtSignatureError,
    38: e.YxtNoDataError,
    39: e.YxtSendTypeError,
    505: e.YxtMissingParameterError,
    507: e.YxtClockSkewError,
}
RETRYABLE = {11, 20, 507}


@pytest.fixture
def gateway() -> Iterator[ScriptedGateway]:
    with scripted_gateway() as gw:
        yield gw


def make_client(gateway: ScriptedGateway, retry: RetrySettings = NO_RETRY) -> YxtClient:
    return YxtClient(gateway.base_url, "100001", "demo_app", SECRET, retry=retry, timeout=5)


def send(client: YxtClient) -> object:
    return client.send(["13800138000"], "hello", "1000000000001", "20241125120000000001")


def test_every_protocol_code_has_a_class() -> None:
    assert set(e.ERRORS_BY_CODE) == set(CODE_CLASSES)


@pytest.mark.parametrize(("code", "cls"), sorted(CODE_CLASSES.items()))
def test_result_code_reaches_client_as_its_class(gateway: ScriptedGateway, code: int, cls: type) -> None:
    gateway.script(envelope(code, msg="原因 13800138000"))
    with pytest.raises(cls) as info:
        send(make_client(gateway))
    err = info.value
    assert err.code == code
    assert err.retryable is (code in RETRYABLE)
    assert "13800138000" not in str(err) and "138****8000" in err.msg
    assert f"code {code}" in str(err)


def test_unknown_code_is_a_gateway_error(gateway: ScriptedGateway) -> None:
    gateway.script(envelope(4242, msg="new"))
    with pytest.raises(e.YxtGatewayError) as info:
        send(make_client(gateway))
    assert info.value.code == 4242 and not info.value.retryable


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (Scripted(b"<html>Bad Gateway 13800138000</html>", status=502), "HTTP 502"),
        (Scripted(b"not json at all"), "not JSON"),
        (Scripted(json.dumps({"msg": "x"}).encode()), "no 'code'"),
        (Scripted(json.dumps({"code": "0", "msg": "x"}).encode()), "'code' is str"),
        (Scripted(json.dumps({"code": True}).encode()), "'code' is bool"),
        (Scripted(json.dumps([1, 2]).encode()), "no 'code'"),
        (Scripted(json.dumps(envelope(0, data={"noTaskId": 1})).encode()), "data.taskId"),
    ],
)
def test_malformed_replies_raise_protocol_errors(
    gateway: ScriptedGateway, answer: Scripted, fragment: str
) -> None:
    gateway.script(answer)
    with pytest.raises(e.YxtProtocolError) as info:
        send(make_client(gateway))
    assert fragment in str(info.value)
    assert "13800138000" not in str(info.value)


def test_protocol_error_truncates_long_bodies(gateway: ScriptedGateway) -> None:
    gateway.script(Scripted(b"x" * 10_000, status=500))
    with pytest.raises(e.YxtProtocolError) as info:
        send(make_client(gateway))
    assert len(str(info.value)) < 400 and "10000 chars" in str(info.value)
    assert info.value.retryable and info.value.status == 500


@pytest.mark.parametrize(
    "data",
    [{"not": "a list"}, [{"serialNumber": "1"}], [{"serialNumber": "1", "userNumber": "2", "result": "x"}]],
)
def test_malformed_receipts(gateway: ScriptedGateway, data: object) -> None:
    gateway.script(envelope(0, data=data))
    with pytest.raises(e.YxtProtocolError):
        make_client(gateway).fetch_receipts()


def test_malformed_replies(gateway: ScriptedGateway) -> None:
    gateway.script(envelope(0, data={"apiSmsReplyBoList": [{"content": "hi"}], "maxId": "3"}))
    with pytest.raises(e.YxtProtocolError, match="callMdn"):
        make_client(gateway).query_replies()


def test_connection_refused_is_transport_error() -> None:
    client = YxtClient("http://127.0.0.1:9", "100001", "demo_app", SECRET, retry=NO_RETRY, timeout=2)
    with pytest.raises(e.YxtTransportError) as info:
        send(client)
    assert info.value.retryable


def test_dropped_connection_is_transport_error(gateway: ScriptedGateway) -> None:
    gateway.script(Scripted(None))
    with pytest.raises(e.YxtTransportError):
        send(make_client(gateway))


def test_secret_never_in_repr_errors_or_logs(
    gateway: ScriptedGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway.script(envelope(35, msg="sign error"), envelope(11), envelope(35))
    client = make_client(gateway, RetrySettings(max_attempts=3, initial_wait=0, jitter=0))
    assert SECRET not in repr(client) and SECRET not in str(vars(client))
    with pytest.raises(e.YxtSignatureError) as info:
        send(client)
    with pytest.raises(e.YxtSignatureError):
        send(client)
    assert SECRET not in str(info.value) and SECRET not in caplog.text
    for request in gateway.requests:
        assert SECRET.encode() not in request["body"]
        assert SECRET not in json.dumps(request["headers"])


def test_session_has_pooled_keep_alive(gateway: ScriptedGateway) -> None:
    client = make_client(gateway)
    adapter = client.session.get_adapter(gateway.base_url)
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    assert adapter._pool_maxsize == 10
