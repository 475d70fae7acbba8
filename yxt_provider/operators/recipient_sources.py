"""Recipients from a SQL query on any Airflow SQL connection (the Airflow side of recipient sources).

Values and CSV files are read by :mod:`yxt_provider.campaign.sources`, which needs no Airflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from yxt_provider.campaign.recipients import Recipient, iter_recipients

__all__ = ["iter_sql_recipients"]

_SQL_FETCH_ROWS = 10_000


def iter_sql_recipients(
    sql: str, conn_id: str, *, parameters: Any = None, number_field: str | None = None
) -> Iterator[Recipient]:
    """Yield recipients from the rows of a query run through any Airflow SQL connection.

    Rows are fetched in chunks, so a large audience is never held twice in memory.

    :param sql: the query; one column holds the number, the others become template variables.
    :param conn_id: an Airflow connection whose hook is a ``DbApiHook`` (Postgres, MySQL, SQLite, …).
    :param parameters: query parameters, passed to the driver.
    :param number_field: the column with the phone number.
    :raises ValueError: when the connection is not a SQL connection.
    """
    from airflow.sdk import BaseHook

    try:
        from airflow.providers.common.sql.hooks.sql import DbApiHook
    except ImportError:  # every SQL provider depends on common-sql: without it there is none
        raise ValueError(
            f"recipients_sql needs a SQL provider for connection {conn_id!r} "
            "(e.g. apache-airflow-providers-postgres); none is installed"
        ) from None
    hook = BaseHook.get_connection(conn_id).get_hook()
    if not isinstance(hook, DbApiHook):
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
