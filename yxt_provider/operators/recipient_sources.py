"""Where a campaign's recipients come from: a value, a CSV file or object-storage path, a SQL query."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from yxt_provider.campaign.recipients import Recipient, iter_csv_recipients, iter_recipients

__all__ = ["iter_file_recipients", "iter_sql_recipients", "load_recipients"]

_SQL_FETCH_ROWS = 10_000


def iter_file_recipients(path: Any, *, number_field: str | None = None) -> Iterator[Recipient]:
    """Yield recipients from a CSV file with a header row.

    :param path: a local path, or an ``ObjectStoragePath`` (anything with ``open()``), e.g.
        ``ObjectStoragePath("s3://aws_default@bucket/recipients.csv")``.
    :param number_field: the column with the phone number (default: ``number``/``phone``/``mobile``…).
    """
    opener = path.open if hasattr(path, "open") else None
    stream = (
        opener("r", encoding="utf-8-sig", newline="")
        if opener
        else open(  # noqa: SIM115
            os.fspath(path), encoding="utf-8-sig", newline=""
        )
    )
    with stream:
        yield from iter_csv_recipients(stream, number_field=number_field)


def iter_sql_recipients(
    sql: str, conn_id: str, *, parameters: Any = None, number_field: str | None = None
) -> Iterator[Recipient]:
    """Yield recipients from the rows of a query run through any Airflow SQL connection.

    Rows are fetched in chunks, so a large audience is never held twice in memory.

    :param sql: the query; one column holds the number, the others become template variables.
    :param conn_id: an Airflow connection whose hook is a ``DbApiHook`` (Postgres, MySQL, SQLite, …).
    :param parameters: query parameters, passed to the driver.
    :param number_field: the column with the phone number.
    """
    from airflow.sdk import BaseHook

    hook = BaseHook.get_connection(conn_id).get_hook()
    if not hasattr(hook, "get_conn"):
        raise ValueError(f"connection {conn_id!r} is not a SQL connection; recipients_sql needs one")
    conn = hook.get_conn()
    try:
        cursor = conn.cursor()
        cursor.execute(sql, parameters) if parameters is not None else cursor.execute(sql)
        columns = [col[0] for col in cursor.description or ()]
        while rows := cursor.fetchmany(_SQL_FETCH_ROWS):
            yield from iter_recipients(
                (dict(zip(columns, row, strict=True)) for row in rows), number_field=number_field
            )
        cursor.close()
    finally:
        conn.close()


def load_recipients(
    recipients: Any = None,
    *,
    recipients_file: Any = None,
    recipients_sql: str | None = None,
    recipients_conn_id: str | None = None,
    recipients_sql_parameters: Any = None,
    number_field: str | None = None,
) -> Iterator[Recipient]:
    """Yield recipients from every source given, in this order: ``recipients``, ``recipients_file``,
    ``recipients_sql``. Cleaning keeps the first occurrence of a repeated number.
    """
    if recipients is None and recipients_file is None and recipients_sql is None:
        raise ValueError("SendSmsOperator needs recipients, recipients_file or recipients_sql")
    if recipients is not None:
        yield from iter_recipients(recipients, number_field=number_field)
    if recipients_file is not None:
        yield from iter_file_recipients(recipients_file, number_field=number_field)
    if recipients_sql is not None:
        if not recipients_conn_id:
            raise ValueError(
                "recipients_sql needs recipients_conn_id, the Airflow SQL connection to run it on"
            )
        yield from iter_sql_recipients(
            recipients_sql,
            recipients_conn_id,
            parameters=recipients_sql_parameters,
            number_field=number_field,
        )
