"""Number normalisation and masking."""

from __future__ import annotations

import pytest

from yxt_provider.client.numbers import (
    InvalidNumberError,
    mask_number,
    mask_numbers_in_text,
    normalize_number,
)


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+8613800138000",
        "8613800138000",
        "008613800138000",
        "138 0013 8000",
        "138-0013-8000",
        " +86 138-0013-8000 ",
        "(138)00138000",
        13800138000,
    ],
)
def test_normalize_accepts_common_forms(raw: object) -> None:
    assert normalize_number(raw) == "13800138000"


@pytest.mark.parametrize(
    "raw", ["", "12800138000", "1380013800", "138001380001", "abc", "+1 415 555 0100", "86"]
)
def test_normalize_rejects_with_masked_message(raw: str) -> None:
    with pytest.raises(InvalidNumberError) as info:
        normalize_number(raw)
    assert "mainland China mobile number" in str(info.value)


def test_invalid_number_message_is_masked() -> None:
    with pytest.raises(InvalidNumberError) as info:
        normalize_number("12800138000")
    assert "12800138000" not in str(info.value)
    assert "128****8000" in str(info.value)


def test_mask_number() -> None:
    assert mask_number("13800138000") == "138****8000"
    assert mask_number("123") == "***"
    assert "456789" not in mask_number("123456789012")


def test_mask_numbers_in_text_masks_only_standalone_mobiles() -> None:
    text = "bad numbers 13800138000,13900139000; serial 20241125120000000001"
    masked = mask_numbers_in_text(text)
    assert "13800138000" not in masked and "13900139000" not in masked
    assert "138****8000" in masked and "139****9000" in masked
    assert "20241125120000000001" in masked  # a 20-digit serial is not a phone number


@pytest.mark.parametrize("raw", ["13800138000\n", "１３８００１３８０００", "١٣٨٠٠١٣٨٠٠٠"])
def test_trailing_newline_and_non_ascii_digits_are_not_numbers(raw: str) -> None:
    # "$" would accept a trailing newline and "\d" any script's digits; the gateway takes neither.
    # Whitespace is cleaned and full-width digits fold to ASCII (NFKC): what is returned is
    # always the ASCII number, never the raw text; other scripts' digits are refused.
    if raw.strip() != raw or raw.startswith("１"):
        assert normalize_number(raw) == "13800138000"
    else:
        with pytest.raises(InvalidNumberError):
            normalize_number(raw)


def test_normalize_numbers_fast_path_and_fallback_agree() -> None:
    from yxt_provider.client.numbers import normalize_numbers

    clean = ["13800138000", "13900139000"]
    assert normalize_numbers(clean) == clean
    assert normalize_numbers(["+8613800138000", 13900139000]) == clean
    with pytest.raises(InvalidNumberError):
        normalize_numbers(["13800138000,13900139000"])  # one item holding two numbers
    with pytest.raises(InvalidNumberError):
        normalize_numbers(["13800138000", "12345"])
    assert normalize_numbers([]) == []


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("to +8613800138000 failed", "to +86138****8000 failed"),
        ("to 8613800138000 failed", "to 86138****8000 failed"),
        ("to 008613800138000 failed", "to 0086138****8000 failed"),
        ("to +86 138 0013 8000 failed", "to +86 138 **** 8000 failed"),
        ("to 138 0013 8000 failed", "to 138 **** 8000 failed"),
        ("to 138-0013-8000 failed", "to 138-****-8000 failed"),
        ("to +86-138-0013-8000, 139 0013 9000", "to +86-138-****-8000, 139 **** 9000"),
    ],
)
def test_mask_numbers_in_text_masks_prefixed_and_grouped_forms(text: str, masked: str) -> None:
    assert mask_numbers_in_text(text) == masked


@pytest.mark.parametrize(
    "text",
    ["serial 20241125120000000001", "id 1138001380001", "order 138 00138 000", "price 1380013800.5"],
)
def test_mask_numbers_in_text_leaves_other_digit_runs(text: str) -> None:
    assert mask_numbers_in_text(text) == text
