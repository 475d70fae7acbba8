"""Where a campaign's recipients come from: values handed over, and CSV files.

Reading a SQL query needs an Airflow connection, so that source lives with the operators
(:mod:`yxt_provider.operators.recipient_sources`); this module needs no Airflow.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from yxt_provider.campaign.recipients import Recipient, iter_csv_recipients, iter_recipients

__all__ = ["iter_file_recipients", "load_recipients"]


def iter_file_recipients(path: Any, *, number_field: str | None = None) -> Iterator[Recipient]:
    """Yield recipients from a CSV file with a header row.

    :param path: a local path, or an ``ObjectStoragePath`` (anything with ``open()``), e.g.
        ``ObjectStoragePath("s3://aws_default@bucket/recipients.csv")``.
    :param number_field: the column with the phone number (default: ``number``/``phone``/``mobile``…).
    """
    if hasattr(path, "open"):
        stream = path.open("r", encoding="utf-8-sig", newline="")
    else:
        stream = open(os.fspath(path), encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    with stream:
        yield from iter_csv_recipients(stream, number_field=number_field)


def load_recipients(
    recipients: Any = None,
    *,
    recipients_file: Any = None,
    more: Iterable[Recipient] | None = None,
    number_field: str | None = None,
) -> Iterator[Recipient]:
    """Yield recipients from every source given, in this order: ``recipients``, ``recipients_file``, ``more``.

    Cleaning keeps the first occurrence of a repeated number, so the order decides whose
    variables a number repeated across sources gets.

    :param recipients: numbers or mappings (see :func:`~yxt_provider.campaign.recipients.iter_recipients`).
    :param recipients_file: a CSV file (see :func:`iter_file_recipients`).
    :param more: recipients from elsewhere (a SQL query), read last and lazily.
    :param number_field: the key or column holding the phone number.
    """
    if recipients is not None:
        yield from iter_recipients(recipients, number_field=number_field)
    if recipients_file is not None:
        yield from iter_file_recipients(recipients_file, number_field=number_field)
    if more is not None:
        yield from more
