"""Reading ``data.failList``: the numbers the gateway refused inside a send it accepted.

The protocol document does not show the field; public callers of the gateway do, as a
comma-separated string that is empty when nothing was refused (PROTOCOL.md, "Seen in public
callers"). A list is read the same way, and absence, ``null``, ``""`` and ``[]`` all mean
"none refused".

The request was accepted when this is read, so nothing here raises: a retry would get code
15 and the refused numbers would be lost for good. What cannot be matched to a number of the
request is counted and reported by the caller, masked, and the rest is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yxt_provider.client.numbers import InvalidNumberError, normalize_number

__all__ = ["FailList", "read_fail_list"]


@dataclass(frozen=True)
class FailList:
    """What a send answer's ``failList`` says.

    :param refused: numbers of the request the gateway refused, in the request's form and
        order, each once.
    :param unmatched: entries that name no number of the request (or no number at all).
    :param unreadable: the field had a shape that is neither a string nor a list (its type
        name), so nothing could be read from it.
    """

    refused: tuple[str, ...] = field(default=(), repr=False)
    unmatched: int = 0
    unreadable: str | None = None


def read_fail_list(value: object, user_number: str) -> FailList:
    """Read ``data.failList`` against the request's ``userNumber`` (comma-separated numbers).

    :param value: the field as decoded from JSON (``None`` when absent).
    :param user_number: the request's ``userNumber``.
    """
    if value is None or value == "" or value == []:
        return FailList()
    if isinstance(value, str):
        entries: list[object] = [*value.split(",")]
    elif isinstance(value, list):
        entries = list(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        entries = [value]  # one number, decoded from JSON as an integer
    else:
        return FailList(unreadable=type(value).__name__)
    requested = user_number.split(",")
    sent = set(requested)
    refused: set[str] = set()
    unmatched = 0
    for entry in entries:
        if isinstance(entry, str) and not entry.strip():
            continue  # "a,,b" and a trailing comma
        number = _as_number(entry)
        if number is None or number not in sent:
            unmatched += 1
        else:
            refused.add(number)
    # In the request's order, each once, whatever order and repeats the gateway used.
    return FailList(refused=tuple(n for n in requested if n in refused), unmatched=unmatched)


def _as_number(entry: object) -> str | None:
    if isinstance(entry, bool) or not isinstance(entry, (str, int)):
        return None
    try:
        return normalize_number(entry)
    except InvalidNumberError:
        return None
