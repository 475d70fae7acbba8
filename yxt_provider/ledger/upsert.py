"""Dialect-aware idempotent INSERT statements: the one place that knows each backend's syntax.

PostgreSQL and SQLite share ``INSERT ... ON CONFLICT``; MySQL/MariaDB spell it
``INSERT IGNORE`` and ``ON DUPLICATE KEY UPDATE``. Every idempotent write in the ledger is
built here so that adding a backend means changing one module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert

__all__ = ["insert_ignore", "supports_insert_returning", "upsert"]

_MYSQL_FAMILY = frozenset({"mysql", "mariadb"})


def insert_ignore(table: sa.Table, dialect: Dialect) -> Insert:
    """An INSERT that silently skips rows whose primary key already exists.

    On MySQL ``INSERT IGNORE`` also skips other errors (any unique key, truncation), so
    use it only for tables whose only unique key is the primary key.

    :param table: the table to insert into.
    :param dialect: the dialect of the connection the statement will run on.
    :raises NotImplementedError: for a backend other than PostgreSQL, SQLite, MySQL/MariaDB.
    """
    name = dialect.name
    if name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if name in _MYSQL_FAMILY:
        return mysql.insert(table).prefix_with("IGNORE")
    raise NotImplementedError(f"the YXT ledger does not support the {name!r} database backend")


def upsert(table: sa.Table, dialect: Dialect, *, key: Sequence[str], update: Sequence[str]) -> Insert:
    """An INSERT that, when the row with the same ``key`` exists, overwrites the ``update`` columns.

    :param table: the table to write.
    :param dialect: the dialect of the connection the statement will run on.
    :param key: the columns of the primary key (or a unique constraint) that identify the row.
    :param update: the columns to overwrite with the new values on conflict.
    :raises NotImplementedError: for a backend other than PostgreSQL, SQLite, MySQL/MariaDB.
    """
    name = dialect.name
    if name in ("postgresql", "sqlite"):
        stmt: Any = (postgresql if name == "postgresql" else sqlite).insert(table)
        return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
            index_elements=list(key), set_={col: stmt.excluded[col] for col in update}
        )
    if name in _MYSQL_FAMILY:
        my_stmt = mysql.insert(table)
        return my_stmt.on_duplicate_key_update({col: my_stmt.inserted[col] for col in update})
    raise NotImplementedError(f"the YXT ledger does not support the {name!r} database backend")


def supports_insert_returning(dialect: Dialect) -> bool:
    """True when ``INSERT ... RETURNING`` reports exactly the rows an insert-ignore wrote.

    PostgreSQL and SQLite ≥ 3.35 do; MySQL does not (MariaDB has RETURNING, but the ledger
    treats the whole MySQL family alike to keep one code path there).

    :param dialect: the dialect to ask about.
    """
    return dialect.name in ("postgresql", "sqlite") and bool(dialect.insert_returning)
