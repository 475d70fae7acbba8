"""Mainland China mobile numbers: normalising what people type, and masking for logs."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "InvalidNumberError",
    "is_mobile",
    "is_mobile_list",
    "mask_number",
    "mask_numbers_in_text",
    "normalize_number",
    "normalize_numbers",
]

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_MOBILE_LIST = re.compile(r"1[3-9][0-9]{9}(?:,1[3-9][0-9]{9})*")
_SEPARATORS = re.compile(r"[\s\-()（）]")
# Only the full-width forms a Chinese IME types fold to ASCII. NFKC folded far more (①, ¹,
# 𝟏, ﹢ …), so text no person would call a phone number was accepted as one.
_FULL_WIDTH = str.maketrans(
    {**{chr(0xFF10 + d): str(d) for d in range(10)}, "＋": "+", "－": "-", "\u3000": " "}
)
# A mobile number inside longer text, in every spelling a log line could carry it: ASCII or
# full-width digits, grouped 3-4-4 by a space or dash, behind +86 / 86 / 0086, and not part of
# a longer digit run. The same spellings count as leaks in the tests' leak scanner.
_D = "[0-9０-９]"
_MOBILE_IN_TEXT = re.compile(
    rf"(?<![\d+＋])(?P<prefix>(?:(?:\+|＋)?[8８][6６]|[0０]{{2}}[8８][6６])[ -]?)?"
    rf"(?P<head>[1１][3-9３-９]{_D})(?P<sep1>[ -]?){_D}{{4}}(?P<sep2>[ -]?)(?P<tail>{_D}{{4}})(?!\d)"
)


class InvalidNumberError(ValueError):
    """A recipient is not a mainland mobile number; the message shows it masked."""


def mask_number(number: str) -> str:
    """Mask a phone number for logs: ``13800138000`` → ``138****8000``.

    Anything that is not 11 characters keeps at most its first 3 and last 2 characters.
    """
    text = str(number)
    if len(text) == 11:
        return f"{text[:3]}****{text[-4:]}"
    if len(text) <= 5:
        return "*" * len(text)
    return f"{text[:3]}{'*' * (len(text) - 5)}{text[-2:]}"


def mask_numbers_in_text(text: str) -> str:
    """Mask every mobile number that appears inside ``text`` (for error messages and logs).

    ``13800138000``, ``+86 138-0013-8000`` and ``１３８００１３８０００`` all keep only their first
    three and last four digits (and prefix and separators: ``+86 138-****-8000``); digit runs
    longer than a number (serials, ids) are left alone.
    """
    return _MOBILE_IN_TEXT.sub(_masked_match, text)


def _masked_match(match: re.Match[str]) -> str:
    prefix = match.group("prefix") or ""
    return f"{prefix}{match.group('head')}{match.group('sep1')}****{match.group('sep2')}{match.group('tail')}"


def _as_text(raw: object) -> str:
    try:
        return raw if isinstance(raw, str) else str(raw)
    except (ValueError, OverflowError):  # e.g. an int too long for str() (sys.int_info limit)
        raise InvalidNumberError(
            f"this {type(raw).__name__} is too large to be a mainland China mobile number"
        ) from None


def normalize_number(raw: object) -> str:
    """Return the 11-digit form of a mainland mobile number.

    Accepts ``+86``/``0086``/``86`` prefixes, spaces, dashes and brackets, and full-width
    digits and signs.
    :raises InvalidNumberError: when what remains is not ``1[3-9]`` followed by 9 digits.
    """
    if type(raw) is str and _MOBILE.fullmatch(raw):
        return raw  # already clean: the common case, and a hot path for 1000-number batches
    text = _SEPARATORS.sub("", _as_text(raw).translate(_FULL_WIDTH).strip())
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif len(text) == 13 and text.startswith("86"):
        text = text[2:]
    if not _MOBILE.fullmatch(text):
        raise InvalidNumberError(
            f"{mask_number(text)!r} is not a mainland China mobile number "
            "(expected 11 digits starting 13-19, optionally with +86)"
        )
    return text


def normalize_numbers(numbers: Iterable[object]) -> list[str]:
    """Normalise many numbers (see :func:`normalize_number`), fast when they are already clean.

    :raises InvalidNumberError: naming the first invalid number, masked.
    """
    items = list(numbers)
    try:
        joined = ",".join(items)  # type: ignore[arg-type]
    except TypeError:
        joined = ""
    # One regex pass over the joined list; the length check rules out items holding commas.
    if joined and len(joined) == 12 * len(items) - 1 and is_mobile_list(joined):
        return items  # type: ignore[return-value]
    return [normalize_number(n) for n in items]


def is_mobile_list(text: str) -> bool:
    """True when ``text`` is normalised mobile numbers joined by commas, as ``userNumber`` carries them."""
    return bool(_MOBILE_LIST.fullmatch(text))


def is_mobile(number: str) -> bool:
    """True when ``number`` is already a normalised 11-digit mainland mobile number."""
    return bool(_MOBILE.fullmatch(number))
