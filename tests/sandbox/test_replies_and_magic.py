"""Inbound replies (query, confirm, maxId) and the magic number ranges."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.sandbox.conftest import CATCH_ALL, raw_call, send_body, serial
from yxt_provider.client import YxtClient
from yxt_provider.client.client import PATH_CONFIRM, PATH_QUERY, PATH_SEND
from yxt_provider.client.errors import YxtBalanceExhaustedError
from yxt_provider.sandbox import SandboxServer


def test_query_then_confirm(yxt_sandbox: SandboxServer) -> None:
    url = yxt_sandbox.base_url
    assert raw_call(url, PATH_QUERY)["code"] == 38
    first = yxt_sandbox.inject_reply(
        "10690000123", "好的", user_number="13800138000", reply_time="2024-06-01 09:30:00"
    )
    yxt_sandbox.inject_reply("10690000123", "TD", user_number="13900139000")
    envelope = raw_call(url, PATH_QUERY)
    assert envelope["code"] == 0
    replies = envelope["data"]["apiSmsReplyBoList"]
    assert replies[0] == {
        "id": first,
        "callMdn": "10690000123",
        "content": "好的",
        "replyTime": "2024-06-01 09:30:00",
        "userNumber": "13800138000",
    }
    assert envelope["data"]["maxId"] == replies[1]["id"]
    # Unconfirmed replies come back again.
    assert raw_call(url, PATH_QUERY)["data"] == envelope["data"]
    assert raw_call(url, PATH_CONFIRM, {"maxId": envelope["data"]["maxId"]})["code"] == 0
    assert raw_call(url, PATH_QUERY)["code"] == 38
    assert yxt_sandbox.counters()["replies"] == {"pending": 0, "injected": 2, "confirmed": 2}


def test_confirm_removes_only_up_to_max_id(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    yxt_sandbox.configure(reply_page_size=2)
    ids = [yxt_sandbox.inject_reply("106900", f"r{i}", user_number="13800138000") for i in range(5)]
    seen = []
    while (page := yxt_client.query_replies()).replies:
        assert len(page.replies) <= 2
        seen.extend(r.content for r in page.replies)
        assert page.max_id is not None
        yxt_client.confirm_replies(page.max_id)
    assert seen == [f"r{i}" for i in range(5)]
    assert ids == sorted(ids, key=int)


def test_confirm_without_max_id_is_505(yxt_sandbox: SandboxServer) -> None:
    yxt_sandbox.inject_reply("106900", "x")
    assert raw_call(yxt_sandbox.base_url, PATH_CONFIRM, {})["code"] == 505
    assert raw_call(yxt_sandbox.base_url, PATH_CONFIRM, {"maxId": "abc"})["code"] == 1
    assert yxt_sandbox.counters()["replies"]["pending"] == 1


def test_reply_time_is_beijing_wall_time(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    yxt_sandbox.inject_reply("106900", "x", reply_time=datetime(2024, 6, 1, 1, 30, tzinfo=timezone.utc))
    [reply] = yxt_client.query_replies().replies
    assert reply.reply_time == datetime(2024, 6, 1, 1, 30, tzinfo=timezone.utc)
    assert raw_call(yxt_sandbox.base_url, PATH_QUERY)["data"]["apiSmsReplyBoList"][0]["replyTime"] == (
        "2024-06-01 09:30:00"
    )


@pytest.mark.parametrize(
    ("number", "result"),
    [("19900001234", 0), ("19900011234", 2), ("19900021234", None), ("19900031234", 0), ("19900041234", 0)],
)
def test_magic_receipts_ignore_shares(
    yxt_sandbox: SandboxServer, yxt_client: YxtClient, number: str, result
) -> None:
    # Shares that would fail everything else: magic numbers keep their fixed outcome.
    yxt_sandbox.configure(receipt_fail_share=0.5, receipt_missing_share=0.5)
    yxt_client.send([number, "13800138000"], "hi", CATCH_ALL, serial(1))
    assert yxt_sandbox.truth()[0].result == result
    receipts = {r.user_number: r.result for r in yxt_client.fetch_receipts()}
    assert receipts.get(number) == result
    assert "13800138000" not in receipts or receipts["13800138000"] != 0


def test_magic_fail_uses_fail_result(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    yxt_sandbox.configure(fail_result=99)
    yxt_client.send(["19900015555"], "hi", CATCH_ALL, serial(1))
    assert [r.result for r in yxt_client.fetch_receipts()] == [99]


@pytest.mark.parametrize(("number", "content"), [("19900031234", "TD"), ("19900041234", "1")])
def test_magic_auto_replies(
    yxt_sandbox: SandboxServer, yxt_client: YxtClient, number: str, content: str
) -> None:
    yxt_client.send([number, "13800138000"], "hi", CATCH_ALL, serial(1))
    [reply] = yxt_client.query_replies().replies
    assert (reply.user_number, reply.content, reply.call_mdn) == (
        number,
        content,
        yxt_sandbox.config.reply_call_mdn,
    )


def test_magic_auto_reply_follows_the_receipt_delay(
    yxt_sandbox: SandboxServer, yxt_client: YxtClient
) -> None:
    yxt_sandbox.configure(receipt_delay=60)
    yxt_client.send(["19900031234"], "hi", CATCH_ALL, serial(1))
    assert yxt_client.query_replies().replies == []


def test_magic_balance_rejects_the_whole_request(yxt_sandbox: SandboxServer, yxt_client: YxtClient) -> None:
    with pytest.raises(YxtBalanceExhaustedError):
        yxt_client.send(["13800138000", "19900091234"], "hi", CATCH_ALL, serial(1))
    assert yxt_sandbox.accepted() == []
    assert yxt_client.fetch_receipts() == []
    body = send_body(["13800138000"], serial(1))
    assert raw_call(yxt_sandbox.base_url, PATH_SEND, body)["code"] == 0


@pytest.mark.parametrize(
    ("fail_list_format", "expected"), [("string", "19900050001"), ("list", ["19900050001"])]
)
def test_magic_refused_numbers_are_named_in_fail_list(
    yxt_sandbox: SandboxServer, fail_list_format: str, expected: object
) -> None:
    yxt_sandbox.configure(balance=10, fail_list_format=fail_list_format)
    numbers = ["19900000001", "19900050001"]
    answer = raw_call(yxt_sandbox.base_url, PATH_SEND, send_body(numbers, serial(7)))
    assert answer["code"] == 0 and answer["data"]["failList"] == expected
    [request] = yxt_sandbox.accepted()
    assert (request.numbers, request.refused) == (("19900000001",), ("19900050001",))
    # Only the taken number is charged, and only it has a receipt coming.
    assert yxt_sandbox.counters()["balance_left"] == 9
    assert [t.user_number for t in yxt_sandbox.truth()] == ["19900000001"]


def test_an_answer_without_refusals_carries_an_empty_fail_list(yxt_sandbox: SandboxServer) -> None:
    answer = raw_call(yxt_sandbox.base_url, PATH_SEND, send_body(["13800138000"], serial(8)))
    assert answer["data"]["failList"] == ""
