"""What recipients answer to refuse further messages, and how a reply is matched against it.

Apart from the store so operators and triggers can take keywords as arguments when a DAG file
is parsed without importing SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["DEFAULT_OPT_OUT_KEYWORDS", "check_opt_out_keywords", "is_opt_out"]

#: The words Chinese SMS conventionally asks for (回复TD退订, 回T退订, 拒收请回复R), matched
#: after trimming and case-folding.
DEFAULT_OPT_OUT_KEYWORDS: tuple[str, ...] = ("TD", "T", "N", "R", "退订", "取消")


def check_opt_out_keywords(keywords: Iterable[str]) -> tuple[str, ...]:
    """The keywords as a tuple, refusing a single string (``"TD"`` would mean ``T`` and ``D``) and blanks.

    :param keywords: unsubscribe keywords, e.g. ``["TD", "退订"]``.
    :raises ValueError: saying how to write them.
    """
    if isinstance(keywords, str):
        raise ValueError(f"opt_out_keywords must be a list of keywords, e.g. [{keywords!r}], not one string")
    result = tuple(str(keyword).strip() for keyword in keywords)
    if any(not keyword for keyword in result):
        raise ValueError("opt_out_keywords holds an empty keyword; every reply would then opt out")
    return result


def is_opt_out(text: str, keywords: Iterable[str] = DEFAULT_OPT_OUT_KEYWORDS) -> bool:
    """True when a reply's text, trimmed and case-folded, is one of ``keywords``.

    :param text: the reply text.
    :param keywords: the unsubscribe keywords.
    """
    folded = {keyword.strip().casefold() for keyword in keywords}
    return text.strip().casefold() in folded
