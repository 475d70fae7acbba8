"""Recipients: turning what DAG authors hand over into clean, unique mobile numbers.

Accepted shapes: a list of numbers, a comma-separated string, a list of mappings holding a
number plus template variables, CSV text/files, and rows of a SQL query (as mappings).
Invalid numbers are set aside (counted, shown masked); duplicates are dropped (first wins).
"""

from __future__ import annotations

import csv
import heapq
import io
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from yxt_provider.client.numbers import InvalidNumberError, mask_number, normalize_number
from yxt_provider.ledger.models import ExcludedRecipient

__all__ = [
    "NUMBER_FIELDS",
    "CleanRecipients",
    "Recipient",
    "clean_recipients",
    "iter_csv_recipients",
    "iter_recipients",
]

#: Column / key names recognised as "the phone number" when none is given explicitly.
NUMBER_FIELDS = (
    "number",
    "phone",
    "mobile",
    "user_number",
    "userNumber",
    "手机号",
    "手机号码",
    "手机",
    "联系电话",
    "电话",
)
_MAX_INVALID_SAMPLES = 5


_NO_VARIABLES: Mapping[str, Any] = MappingProxyType({})


class Recipient(NamedTuple):
    """One recipient: the number as given and the variables for personalised content.

    A named tuple, not a dataclass: a 1M-recipient campaign holds a million of these.

    :param number: the phone number (normalised by :func:`clean_recipients`).
    :param variables: values for the content template (empty for uniform campaigns).
    """

    number: str
    variables: Mapping[str, Any] = _NO_VARIABLES

    def __repr__(self) -> str:
        return f"Recipient(number={mask_number(self.number)!r}, variables=<{len(self.variables)} keys>)"


@dataclass
class CleanRecipients:
    """Result of cleaning: valid unique recipients and what was set aside.

    :param valid: normalised number → its template variables, in first-seen order. A dict
        rather than a list of :class:`Recipient`: a million-recipient campaign then costs one
        hash table, not a million tuples plus a set to find repeats.
    :param invalid: how many entries were not mainland mobile numbers.
    :param duplicate: how many entries repeated a number already seen.
    :param opted_out: how many valid numbers were set aside as on the opt-out list.
    :param capped: how many valid numbers were set aside as over the frequency cap.
    :param invalid_samples: a few invalid entries, masked, for the log.
    :param excluded: every row set aside, in row order (the valid rows are all the others).
    """

    valid: dict[str, Mapping[str, Any]]
    invalid: int = 0
    duplicate: int = 0
    opted_out: int = 0
    capped: int = 0
    invalid_samples: list[str] = field(default_factory=list)
    excluded: list[ExcludedRecipient] = field(default_factory=list)

    def valid_rows(self) -> Iterator[int]:
        """The source row of each valid recipient, in the order of ``valid``.

        Derived rather than stored: the valid rows are the rows not excluded, in order, so a
        million valid recipients cost no second table.
        """
        skipped = (excluded.row for excluded in self.excluded)
        next_skip = next(skipped, None)
        row = 0
        for _ in range(len(self.valid)):
            row += 1
            while row == next_skip:
                row += 1
                next_skip = next(skipped, None)
            yield row

    def set_aside(self, numbers: Collection[str], reason: str) -> int:
        """Move valid numbers out of the plan, each with its row and ``reason``; returns how many.

        :param numbers: normalised numbers among ``valid`` (others are ignored).
        :param reason: ``opted_out`` or ``capped`` (the counter of that name grows).
        """
        if reason not in ("opted_out", "capped"):
            raise ValueError(f"cannot set numbers aside as {reason!r}; use 'opted_out' or 'capped'")
        if not numbers:
            return 0
        moved = [
            ExcludedRecipient(row, reason, number)
            for number, row in zip(self.valid, self.valid_rows(), strict=True)
            if number in numbers
        ]
        for excluded in moved:
            del self.valid[excluded.value]
        # valid_rows() needs the excluded rows in row order; both lists already are.
        self.excluded = list(heapq.merge(self.excluded, moved, key=lambda excluded: excluded.row))
        setattr(self, reason, getattr(self, reason) + len(moved))
        return len(moved)

    def recipients(self) -> Iterator[Recipient]:
        """The valid recipients, in first-seen order."""
        return (Recipient(number, variables) for number, variables in self.valid.items())

    @property
    def personalised(self) -> bool:
        """True when any recipient carries template variables."""
        return any(self.valid.values())


def _number_key(row: Mapping[str, Any], number_field: str | None) -> str:
    if number_field is not None:
        if number_field not in row:
            raise ValueError(f"recipient row has no {number_field!r} field; it has {sorted(row)}")
        return number_field
    for name in NUMBER_FIELDS:
        if name in row:
            return name
    raise ValueError(
        f"recipient row has none of the number fields {list(NUMBER_FIELDS)}; it has {sorted(row)}. "
        "Set number_field to the column that holds the phone number"
    )


def iter_recipients(source: Any, *, number_field: str | None = None) -> Iterator[Recipient]:
    """Yield raw recipients from a string, or an iterable of strings, numbers or mappings.

    :param source: ``"138...,139..."``, ``["138..."]`` or ``[{"number": "138...", "name": "..."}]``.
    :param number_field: the mapping key holding the number (default: the first of ``NUMBER_FIELDS``).
    """
    if source is None:
        return
    if isinstance(source, str):
        for part in source.replace("\n", ",").replace(";", ",").split(","):
            if part.strip():
                yield Recipient(part.strip())
        return
    if isinstance(source, Mapping):
        raise TypeError("recipients must be a list of numbers or of mappings, not a single mapping")
    for item in source:
        if isinstance(item, Mapping):
            key = _number_key(item, number_field)
            variables = {k: v for k, v in item.items() if k != key}
            yield Recipient(str(item[key]).strip(), variables)
        elif isinstance(item, (str, int)):
            yield Recipient(str(item).strip())
        else:
            raise TypeError(f"cannot use a {type(item).__name__} as a recipient; give a number or a mapping")


def iter_csv_recipients(
    text_stream: Iterable[str], *, number_field: str | None = None
) -> Iterator[Recipient]:
    """Yield recipients from CSV lines with a header row; other columns become variables."""
    reader = csv.DictReader(text_stream)
    yield from iter_recipients(reader, number_field=number_field)


def csv_text_recipients(text: str, *, number_field: str | None = None) -> Iterator[Recipient]:
    """Yield recipients from CSV given as one string."""
    return iter_csv_recipients(io.StringIO(text), number_field=number_field)


def clean_recipients(recipients: Iterable[Recipient]) -> CleanRecipients:
    """Normalise numbers, drop duplicates (first wins) and set invalid ones aside, noting each row."""
    result = CleanRecipients(valid={})
    valid = result.valid
    repeats: dict[str, list[int]] = {}  # repeated number → indexes of its rows in result.excluded
    for row, recipient in enumerate(recipients, start=1):
        try:
            number = normalize_number(recipient.number)
        except InvalidNumberError:
            result.invalid += 1
            result.excluded.append(ExcludedRecipient(row, "invalid", str(recipient.number)))
            if len(result.invalid_samples) < _MAX_INVALID_SAMPLES:
                result.invalid_samples.append(mask_number(recipient.number))
            continue
        if number in valid:
            result.duplicate += 1
            repeats.setdefault(number, []).append(len(result.excluded))
            result.excluded.append(ExcludedRecipient(row, "duplicate", str(recipient.number)))
            continue
        valid[number] = recipient.variables
    if repeats:
        # Where each repeated number first appeared: one pass, remembering only the repeated ones.
        for number, first_row in zip(valid, result.valid_rows(), strict=True):
            for index in repeats.get(number, ()):
                result.excluded[index] = result.excluded[index]._replace(duplicate_of_row=first_row)
    return result
