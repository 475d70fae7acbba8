"""Number fuzz: normalising is total (a valid number or ``InvalidNumberError``), idempotent, and masking never reveals a number."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fixtures.leaks import find_leaks, number_forms
from tests.fuzz.budget import fuzz_settings
from yxt_provider.client.numbers import (
    InvalidNumberError,
    mask_number,
    mask_numbers_in_text,
    normalize_number,
    normalize_numbers,
)

_VALID = re.compile(r"1[3-9][0-9]{9}")
_FULL_WIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")

mobiles = st.from_regex(_VALID, fullmatch=True)
# Anything a caller might pass: text of any script (lone surrogates included), digit soup,
# numbers, and values that are not text at all.
raw_values = st.one_of(
    st.text(),
    st.text(alphabet="0123456789０１２３４５６７８９+＋-－ ()（）86\u3000①¹𝟏٣"),
    st.integers(),
    st.floats(),
    st.none(),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
)


def spellings(number: str) -> st.SearchStrategy[str]:
    """The forms of one number people type: prefixes, separators, full-width digits."""
    forms = [*number_forms(number), f"({number[:3]}){number[3:]}"]
    prefixed = [f"{prefix}{form}" for prefix in ("", "+86", "+86 ", "86", "0086", " +86-") for form in forms]
    return st.sampled_from(prefixed).flatmap(
        lambda text: st.sampled_from([text, text.translate(_FULL_WIDTH), f" {text}\t"])
    )


def _normalize_or_none(raw: object) -> str | None:
    try:
        return normalize_number(raw)
    except InvalidNumberError:
        return None


@fuzz_settings
@given(raw=raw_values)
@example(raw=10**5000)  # str() refuses ints this long (ValueError), found earlier
@example(raw="\ud800" * 11)  # lone surrogates
@example(raw="①③⑧⓪⓪①③⑧⓪⓪⓪")  # NFKC used to fold circled digits into a number
@example(raw="¹³⁸⁰⁰¹³⁸⁰⁰⁰")
@example(raw=float("inf"))
def test_normalize_gives_a_valid_number_or_its_own_error(raw: object) -> None:
    """Whatever goes in, out comes an 11-digit ASCII mobile number or ``InvalidNumberError``."""
    result = _normalize_or_none(raw)
    if result is not None:
        assert _VALID.fullmatch(result)
        assert normalize_number(result) == result  # idempotent


@fuzz_settings
@given(data=st.data(), number=mobiles)
def test_every_spelling_of_a_number_normalises_to_it(data: st.DataObject, number: str) -> None:
    """Prefixes, separators and full-width digits (as a Chinese IME types them) all fold to the number."""
    assert normalize_number(data.draw(spellings(number))) == number


@pytest.mark.parametrize(
    "raw", ["①3800138000", "¹3800138000", "𝟏3800138000", "﹢8613800138000", "13800138000\u00b2"]
)
def test_only_full_width_forms_fold(raw: str) -> None:
    """Compatibility characters other than full-width digits are not digits of a phone number."""
    with pytest.raises(InvalidNumberError):
        normalize_number(raw)


@fuzz_settings
@given(items=st.lists(st.one_of(mobiles, raw_values), max_size=5))
def test_normalize_numbers_is_normalize_number_per_item(items: list[object]) -> None:
    """The batch fast path and the per-item path agree, and fail only with ``InvalidNumberError``."""
    singles = [_normalize_or_none(item) for item in items]
    if None in singles:
        with pytest.raises(InvalidNumberError):
            normalize_numbers(items)
    else:
        assert normalize_numbers(items) == singles


@fuzz_settings
@given(number=mobiles)
def test_masking_a_number_hides_it(number: str) -> None:
    """``mask_number`` keeps 3 + 4 digits of a valid number and never the number."""
    masked = mask_number(number)
    assert number not in masked and masked.count("*") == 4


@fuzz_settings
@given(raw=st.text(alphabet="0123456789 +-x", max_size=30))
def test_refusal_messages_never_carry_a_full_number(raw: str) -> None:
    """An invalid input's error message shows it masked, whatever full number hides inside."""
    try:
        normalize_number(raw)
    except InvalidNumberError as exc:
        hidden = re.findall(r"(?<!\d)1[3-9]\d{9}(?!\d)", re.sub(r"[\s\-+]", "", raw))
        assert not find_leaks([str(exc)], hidden)


@fuzz_settings
@given(
    before=st.text(max_size=20),
    after=st.text(max_size=20),
    number=mobiles,
    data=st.data(),
)
@example(before="call 86", after="", number="13800138000", data=None)
def test_mask_numbers_in_text_leaves_no_full_number(
    before: str, after: str, number: str, data: st.DataObject | None
) -> None:
    """Any spelling of a number, anywhere in any text, is masked (as the tests' leak scanner sees it)."""
    spelled = data.draw(spellings(number).map(str.strip)) if data is not None else number
    masked = mask_numbers_in_text(f"{before}{spelled}{after}")
    # The full-width spelling is checked as a number of its own, with the scanner's token rule.
    assert not find_leaks([masked], [number, number.translate(_FULL_WIDTH)]), masked
