"""``data.failList``: numbers refused inside an accepted send, in every shape public callers show."""

from __future__ import annotations

import logging

import pytest

from tests.client.scripted_gateway import envelope, scripted_gateway
from yxt_provider.client import RetrySettings, YxtClient
from yxt_provider.client.fail_list import FailList, read_fail_list

SENT = "13800000001,13800000002,13800000003"
SERIAL = "12345678901234567890"


@pytest.mark.parametrize("none", [None, "", [], " "])
def test_absent_or_empty_means_none_refused(none: object) -> None:
    assert read_fail_list(none, SENT) == FailList()


@pytest.mark.parametrize(
    "value",
    [
        "13800000003,13800000001",
        "13800000003, 13800000001,",
        ["13800000001", "13800000003"],
        [13800000003, "+86 138 0000 0001"],
        "13800000001,13800000003,13800000001",
    ],
)
def test_a_string_or_a_list_names_the_refused_numbers_in_request_order(value: object) -> None:
    assert read_fail_list(value, SENT) == FailList(refused=("13800000001", "13800000003"))


def test_entries_that_are_no_number_of_the_request_are_counted_not_kept() -> None:
    result = read_fail_list(["13900000000", "abc", None, True, "13800000002"], SENT)
    assert result == FailList(refused=("13800000002",), unmatched=4)


@pytest.mark.parametrize(("value", "kind"), [({"a": 1}, "dict"), (1.5, "float"), (True, "bool")])
def test_another_shape_is_unreadable(value: object, kind: str) -> None:
    assert read_fail_list(value, SENT) == FailList(unreadable=kind)


def _client(base_url: str) -> YxtClient:
    return YxtClient(base_url, "100001", "demo_app", "s3cr3t", retry=RetrySettings(max_attempts=1), timeout=5)


def test_the_send_result_carries_the_refused_numbers_and_logs_them_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    numbers = SENT.split(",")
    with scripted_gateway() as gateway, _client(gateway.base_url) as client:
        gateway.script(envelope(0, {"taskId": "77", "failList": "13800000002,13999999999"}))
        with caplog.at_level(logging.WARNING, logger="yxt_provider"):
            result = client.send(numbers, "hello", "1000000000001", SERIAL)
    assert (result.task_id, result.count, result.refused, result.accepted) == ("77", 3, ("13800000002",), 2)
    assert "138****0002" in caplog.text and "1 entries that are no number of this request" in caplog.text
    assert "13800000002" not in caplog.text and "13800000002" not in repr(result)


def test_an_unreadable_fail_list_still_returns_the_accepted_send(caplog: pytest.LogCaptureFixture) -> None:
    with scripted_gateway() as gateway, _client(gateway.base_url) as client:
        gateway.script(envelope(0, {"taskId": "78", "failList": {"n": 1}}))
        with caplog.at_level(logging.WARNING, logger="yxt_provider"):
            result = client.send(SENT.split(","), "hello", "1000000000001", SERIAL)
    assert (result.task_id, result.refused) == ("78", ())
    assert "data.failList is a dict" in caplog.text
