"""Send: the happy path through YxtClient and each rule of /api/sms/send."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import CATCH_ALL, raw_call, send_body, serial
from yxt_provider.client.client import PATH_SEND
from yxt_provider.client.errors import YxtDuplicateSerialError
from yxt_provider.sandbox import SandboxServer

VECTOR_CONTENT = "您的验证码为 4578，有效期为30分钟。(测试)"


def test_client_send_is_accepted_and_recorded(yxt_sandbox: SandboxServer, yxt_client) -> None:
    result = yxt_client.send(["13800138000", "+86 139-0013-9000"], VECTOR_CONTENT, "2031012220113", serial(1))
    assert result.count == 2
    [accepted] = yxt_sandbox.accepted()
    assert accepted.serial_number == serial(1)
    assert accepted.numbers == ("13800138000", "13900139000")
    assert accepted.content == VECTOR_CONTENT
    assert accepted.template_id == "2031012220113"
    assert accepted.task_id == result.task_id


def test_task_ids_are_unique(yxt_sandbox: SandboxServer) -> None:
    ids = {
        raw_call(yxt_sandbox.base_url, PATH_SEND, send_body(["13800138000"], serial(n)))["data"]["taskId"]
        for n in range(5)
    }
    assert len(ids) == 5


def test_duplicate_serial_is_15_and_not_accepted_twice(yxt_sandbox: SandboxServer, yxt_client) -> None:
    yxt_client.send(["13800138000"], "hi", CATCH_ALL, serial(1))
    with pytest.raises(YxtDuplicateSerialError):
        yxt_client.send(["13900139000"], "other", CATCH_ALL, serial(1))
    assert [a.numbers for a in yxt_sandbox.accepted()] == [("13800138000",)]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"type": "2"}, 39),
        ({"serialNumber": "123"}, 14),
        ({"serialNumber": "2024010100000000000X"}, 14),
        ({"userNumber": "13800138000,12345"}, 1),
        ({"userNumber": ""}, 505),
        ({"messageContent": ""}, 505),
        ({"templateId": "999"}, 28),
        ({"serialNumber": 20240101000000000001}, 1),
    ],
)
def test_send_rules(yxt_sandbox: SandboxServer, change: dict, code: int) -> None:
    body = {**send_body(["13800138000"], serial(1)), **change}
    envelope = raw_call(yxt_sandbox.base_url, PATH_SEND, body)
    assert envelope["code"] == code, envelope
    assert yxt_sandbox.accepted() == []


@pytest.mark.parametrize("field", ["type", "userNumber", "templateId", "messageContent", "serialNumber"])
def test_missing_field_is_505(yxt_sandbox: SandboxServer, field: str) -> None:
    body = send_body(["13800138000"], serial(1))
    del body[field]
    envelope = raw_call(yxt_sandbox.base_url, PATH_SEND, body)
    assert envelope["code"] == 505
    assert field in envelope["msg"]


def test_invalid_number_is_named_masked(yxt_sandbox: SandboxServer) -> None:
    body = send_body(["13800138000", "23800138001"], serial(1))
    envelope = raw_call(yxt_sandbox.base_url, PATH_SEND, body)
    assert envelope["code"] == 1
    assert "238****8001" in envelope["msg"]
    assert "23800138001" not in envelope["msg"]


def test_more_than_1000_numbers_is_9(yxt_sandbox: SandboxServer) -> None:
    numbers = [f"138{i:08d}" for i in range(1001)]
    assert raw_call(yxt_sandbox.base_url, PATH_SEND, send_body(numbers, serial(1)))["code"] == 9
    assert raw_call(yxt_sandbox.base_url, PATH_SEND, send_body(numbers[:1000], serial(2)))["code"] == 0
    assert yxt_sandbox.counters()["accepted_numbers"] == 1000


@pytest.mark.parametrize(
    ("template_id", "content", "code"),
    [
        ("1000000000002", "【某医院】张三您好，您预约的体检将于明天9点开始，请准时到达。", 0),
        ("1000000000002", "【某医院】张三您好，您预约的体检将于明天9点开始。", 28),
        ("1000000000002", "【】张三您好，您预约的体检将于明天9点开始，请准时到达。", 28),
        ("1000000000003", "【某银行】李四您好，您本期应还100.50元，请于6月1日前还款。回复TD退订", 0),
        ("1000000000003", "【某银行】李四您好，您本期应还100.50元，请于6月1日前还款。", 28),
        ("2031012220113", "您的验证码为1234，有效期为5分钟。(测试)extra", 28),
    ],
)
def test_template_matching(yxt_sandbox: SandboxServer, template_id: str, content: str, code: int) -> None:
    body = send_body(["13800138000"], serial(1), content=content, template_id=template_id)
    assert raw_call(yxt_sandbox.base_url, PATH_SEND, body)["code"] == code


def test_balance_13_accepts_nothing(yxt_sandbox: SandboxServer) -> None:
    yxt_sandbox.configure(balance=3)
    url = yxt_sandbox.base_url
    assert raw_call(url, PATH_SEND, send_body(["13800138000", "13800138001"], serial(1)))["code"] == 0
    envelope = raw_call(url, PATH_SEND, send_body(["13800138002", "13800138003"], serial(2)))
    assert envelope["code"] == 13
    assert [a.serial_number for a in yxt_sandbox.accepted()] == [serial(1)]
    assert yxt_sandbox.counters()["balance_left"] == 1
    # A repeat of the accepted batch still says 15, not 13: the idempotency signal survives.
    assert raw_call(url, PATH_SEND, send_body(["13800138000", "13800138001"], serial(1)))["code"] == 15
    assert raw_call(url, PATH_SEND, send_body(["13800138002"], serial(3)))["code"] == 0
    assert yxt_sandbox.counters()["balance_left"] == 0


def test_rejected_serial_can_be_reused(yxt_sandbox: SandboxServer) -> None:
    url = yxt_sandbox.base_url
    bad = send_body(["13800138000"], serial(1), template_id="999")
    assert raw_call(url, PATH_SEND, bad)["code"] == 28
    assert raw_call(url, PATH_SEND, send_body(["13800138000"], serial(1)))["code"] == 0
