"""The send call validates before anything leaves the process."""

from __future__ import annotations

import pytest

from yxt_provider.client import YxtClient, build_send_body
from yxt_provider.client.numbers import InvalidNumberError

SERIAL = "20241125120000000001"


def unreachable_client() -> YxtClient:
    # Port 9 (discard) on loopback: any request that escaped validation would fail loudly.
    return YxtClient("http://127.0.0.1:9", "100001", "demo_app", "s3cr3t")


def test_body_normalises_numbers() -> None:
    body = build_send_body(["+86 138-0013-8000", "8613900139000"], "hi", "1", SERIAL)
    assert body == {
        "type": "1",
        "userNumber": "13800138000,13900139000",
        "templateId": "1",
        "messageContent": "hi",
        "serialNumber": SERIAL,
    }


@pytest.mark.parametrize(
    ("numbers", "content", "template", "serial", "error", "fragment"),
    [
        ([], "hi", "1", SERIAL, ValueError, "at least one"),
        (["13800138000"] * 1001, "hi", "1", SERIAL, ValueError, "at most 1000"),
        (["12345"], "hi", "1", SERIAL, InvalidNumberError, "mainland"),
        (["13800138000"], "  ", "1", SERIAL, ValueError, "content is empty"),
        (["13800138000"], "hi", "", SERIAL, ValueError, "template_id"),
        (["13800138000"], "hi", "1", "123", ValueError, "20 digits"),
        (["13800138000"], "hi", "1", "2024112512000000000x", ValueError, "20 digits"),
    ],
)
def test_invalid_sends_fail_before_any_request(
    numbers: list[str], content: str, template: str, serial: str, error: type, fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        unreachable_client().send(numbers, content, template, serial)


def test_thousand_numbers_is_allowed() -> None:
    numbers = [f"138{i:08d}" for i in range(1000)]
    assert build_send_body(numbers, "hi", "1", SERIAL)["userNumber"].count(",") == 999


@pytest.mark.parametrize("field", ["base_url", "sp_code", "app_key", "app_secret"])
def test_client_needs_every_credential(field: str) -> None:
    kwargs = {"base_url": "http://127.0.0.1:9", "sp_code": "1", "app_key": "k", "app_secret": "s"}
    kwargs[field] = ""
    with pytest.raises(ValueError, match=field):
        YxtClient(**kwargs)


@pytest.mark.parametrize(
    "serial", ["2024112512000000000\n1", "20241125120000000001\n", "２０２４１１２５１２００００００００01"]
)
def test_serial_must_be_twenty_ascii_digits(serial: str) -> None:
    with pytest.raises(ValueError, match="20 digits"):
        build_send_body(["13800138000"], "hi", "1", serial)


@pytest.mark.parametrize("request_id", ["1732500000000123456\n", "١٧٣٢٥٠٠٠٠٠٠٠٠١٢٣٤٥٦", "173250000000012345"])
def test_malformed_request_ids_are_refused(request_id: str) -> None:
    from yxt_provider.client.request_id import request_id_time_ms

    with pytest.raises(ValueError, match="19 digits"):
        request_id_time_ms(request_id)
    assert request_id_time_ms("1732500000000123456") == 1732500000000
