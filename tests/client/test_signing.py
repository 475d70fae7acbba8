"""The signature: the protocol's test vectors, Java URL-encoding edge cases, SM3 backends."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yxt_provider.client import signing
from yxt_provider.client.signing import canonical_params, java_url_encode, sign

SP, KEY, SECRET = "100001", "demo_app", "s3cr3t"
VECTOR_BODY = {
    "type": "1",
    "userNumber": "13800138000,13900139000",
    "templateId": "2031012220113",
    "messageContent": "您的验证码为 4578，有效期为30分钟。(测试)",
    "serialNumber": "20241125120000000001",
}


def test_vector_with_body() -> None:
    assert (
        sign(SP, KEY, SECRET, "1732500000000123456", VECTOR_BODY)
        == "b55b61b751cc0e38e62c575f1aa445f81ade7b57a92c8972ccc0cf3e21edc00e"
    )


def test_vector_without_body() -> None:
    assert (
        sign(SP, KEY, SECRET, "1732500000000654321", None)
        == "53c897a6a0c01ea23b8a3f0aa5843fac7e329f33889677f6b5e8a5e3fea6ab28"
    )


def test_empty_dict_signs_like_no_body() -> None:
    assert sign(SP, KEY, SECRET, "1732500000000654321", {}) == sign(
        SP, KEY, SECRET, "1732500000000654321", None
    )


def test_uppercase_option() -> None:
    lower = sign(SP, KEY, SECRET, "1732500000000654321", None)
    assert sign(SP, KEY, SECRET, "1732500000000654321", None, uppercase=True) == lower.upper()


def test_key_order_does_not_matter() -> None:
    reordered = dict(reversed(list(VECTOR_BODY.items())))
    assert sign(SP, KEY, SECRET, "1", reordered) == sign(SP, KEY, SECRET, "1", VECTOR_BODY)


def test_canonical_params_sorted_by_code_point() -> None:
    assert canonical_params({"b": "2", "B": "1", "a": "3"}) == "B=1&a=3&b=2"


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        (" ", "+"),
        ("~", "%7E"),
        ("*", "*"),
        ("(", "%28"),
        (")", "%29"),
        (",", "%2C"),
        ("=", "%3D"),
        ("&", "%26"),
        ("._-", "._-"),
        ("，", "%EF%BC%8C"),  # Chinese full-width comma
        ("。", "%E3%80%82"),
        ("【", "%E3%80%90"),
        ("😀", "%F0%9F%98%80"),  # 4-byte UTF-8
        ("aZ09", "aZ09"),
    ],
)
def test_java_url_encoding(text: str, encoded: str) -> None:
    assert java_url_encode(text) == encoded


_JAVA_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-*_")


def reference_java_encode(text: str) -> str:
    """URLEncoder.encode(text, "UTF-8") spelled out byte by byte, straight from its Javadoc."""
    return "".join(
        "+" if b == 0x20 else chr(b) if b in _JAVA_SAFE else f"%{b:02X}" for b in text.encode("utf-8")
    )


@given(st.text())
def test_java_encoding_matches_byte_by_byte_reference(text: str) -> None:
    assert java_url_encode(text) == reference_java_encode(text)


@given(st.binary(max_size=256))
def test_cryptography_sm3_matches_hashlib(data: bytes) -> None:
    if "sm3" not in hashlib.algorithms_available:
        pytest.skip("OpenSSL has no SM3 here; only the fallback exists")
    assert signing._sm3_from_cryptography()(data) == hashlib.new("sm3", data).hexdigest()


def test_signature_changes_with_every_input() -> None:
    base = sign(SP, KEY, SECRET, "1732500000000123456", VECTOR_BODY)
    assert sign(SP, KEY, "other", "1732500000000123456", VECTOR_BODY) != base
    assert sign(SP, "other", SECRET, "1732500000000123456", VECTOR_BODY) != base
    assert sign("100002", KEY, SECRET, "1732500000000123456", VECTOR_BODY) != base
    assert sign(SP, KEY, SECRET, "1732500000000123457", VECTOR_BODY) != base
    assert sign(SP, KEY, SECRET, "1732500000000123456", {**VECTOR_BODY, "type": "2"}) != base
