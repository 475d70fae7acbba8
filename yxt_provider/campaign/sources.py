"""Recipients from CSV files (local or object storage), in the encoding their author saved them in.

Reading a SQL query needs an Airflow connection, so that source lives with the operators
(:mod:`yxt_provider.operators.recipient_sources`); this module needs no Airflow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from yxt_provider.campaign.recipients import Recipient, iter_csv_recipients

__all__ = ["iter_file_recipients"]


def iter_file_recipients(
    path: Any, *, number_field: str | None = None, encoding: str | None = None
) -> Iterator[Recipient]:
    """Yield recipients from a CSV file with a header row.

    :param path: a local path, or an ``ObjectStoragePath`` (anything with ``open()``), e.g.
        ``ObjectStoragePath("s3://aws_default@bucket/recipients.csv")``.
    :param number_field: the column with the phone number (default: ``number``/``phone``/``手机号码``…).
    :param encoding: the file's text encoding; default UTF-8, with or without a byte-order
        mark. Excel on Chinese Windows saves CSV as ``gbk``.
    :raises ValueError: when the file is not in that encoding, saying how to fix it.
    """
    chosen = encoding or "utf-8-sig"
    if hasattr(path, "open"):
        stream = path.open("r", encoding=chosen, newline="")
    else:
        stream = open(os.fspath(path), encoding=chosen, newline="")  # noqa: SIM115 - closed below
    with stream:
        try:
            yield from iter_csv_recipients(stream, number_field=number_field)
        except UnicodeDecodeError as exc:
            hint = (
                "pass recipients_encoding='gbk' if Excel saved it on Chinese Windows, "
                "or save it as 'CSV UTF-8'"
                if encoding is None
                else "check recipients_encoding"
            )
            raise ValueError(
                f"{path} is not {encoding or 'UTF-8'} text (byte 0x{exc.object[exc.start]:02x} cannot be "
                f"decoded as {exc.encoding}): {hint}"
            ) from None
