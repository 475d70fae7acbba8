"""Everything the ledger writes differently per SQL backend: the one module that knows each one's syntax.

- Idempotent inserts: PostgreSQL and SQLite share ``INSERT ... ON CONFLICT``; MySQL/MariaDB
  spell it ``INSERT IGNORE`` and ``ON DUPLICATE KEY UPDATE``. Every idempotent write in the
  ledger is built here (:func:`insert_ignore`, :func:`upsert`, :func:`insert_if_absent`).
- Pages of rows as one bound JSON parameter (:func:`page_source`), which the fast paths join.
- The fast plan writer (:func:`message_writer`) and the statistics refresh after a plan.
- The receipt-storing statements (:func:`receipt_writer`), one per backend, each built from
  the status expressions of :mod:`yxt_provider.ledger.expressions`.
- The database's own clock (:func:`database_clock`), which the shared send pace runs on, and
  the pace transaction's durability (:func:`prepare_pace_transaction`).
- Timestamps into intervals of the epoch (:func:`time_bucket`), for the receipts chart.

Adding a backend means changing this module (and the engine settings), nothing else.
Tested backends: SQLite, PostgreSQL, MariaDB 10.11. Oracle MySQL takes the paths for
"no ``INSERT ... RETURNING``", which the tests run on the other backends.

Longer than the ledger's other modules on purpose (about 470 lines): keeping every backend
difference of the write side here is its job, and splitting it per backend would pull
apart the variants of one statement that have to stay equivalent.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql.dml import Insert

from yxt_provider.ledger import expressions, schema

__all__ = [
    "MESSAGE_PLAN_COLUMNS",
    "database_clock",
    "insert_if_absent",
    "insert_ignore",
    "insert_ignore_many",
    "is_mysql",
    "message_writer",
    "named_lock",
    "page_json",
    "page_source",
    "prepare_pace_transaction",
    "prepare_receipt_transaction",
    "receipt_writer",
    "refresh_statistics",
    "supports_insert_returning",
    "time_bucket",
    "upsert",
]

log = logging.getLogger(__name__)

_MYSQL_FAMILY = frozenset({"mysql", "mariadb"})
_PAGE_PARAM = "page_json"

Columns = Sequence[tuple[str, sa.types.TypeEngine[Any]]]
MessageRow = tuple[str, str, str, int, int, str, int | None]
ReceiptRow = tuple[str, str, int]
ReceiptWriter = Callable[[Connection, Sequence[ReceiptRow], datetime], tuple[int, int]]
"""Stores a sorted page of distinct receipts; returns (stored new, of those matched)."""

_m = schema.messages.c
_r = schema.receipts.c


def is_mysql(dialect: Dialect) -> bool:
    """True for MySQL and MariaDB (SQLAlchemy names both dialects ``mysql`` or ``mariadb``).

    :param dialect: the dialect to ask about.
    """
    return dialect.name in _MYSQL_FAMILY


def _unsupported(dialect: Dialect) -> NotImplementedError:
    return NotImplementedError(f"the YXT ledger does not support the {dialect.name!r} database backend")


# ---------------------------------------------------------------------------------- idempotent inserts


def insert_ignore(table: sa.Table, dialect: Dialect) -> Insert:
    """An INSERT that silently skips rows whose primary key already exists.

    On MySQL ``INSERT IGNORE`` also skips other errors (any unique key, truncation), so
    use it only for tables whose only unique key is the primary key.

    :param table: the table to insert into.
    :param dialect: the dialect of the connection the statement will run on.
    :raises NotImplementedError: for a backend other than PostgreSQL, SQLite, MySQL/MariaDB.
    """
    if dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if is_mysql(dialect):
        return mysql.insert(table).prefix_with("IGNORE")
    raise _unsupported(dialect)


def upsert(table: sa.Table, dialect: Dialect, *, key: Sequence[str], update: Sequence[str]) -> Insert:
    """An INSERT that, when the row with the same ``key`` exists, overwrites the ``update`` columns.

    :param table: the table to write.
    :param dialect: the dialect of the connection the statement will run on.
    :param key: the columns of the primary key (or a unique constraint) that identify the row.
    :param update: the columns to overwrite with the new values on conflict.
    :raises NotImplementedError: for a backend other than PostgreSQL, SQLite, MySQL/MariaDB.
    """
    if dialect.name in ("postgresql", "sqlite"):
        stmt: Any = (postgresql if dialect.name == "postgresql" else sqlite).insert(table)
        return stmt.on_conflict_do_update(
            index_elements=list(key), set_={col: stmt.excluded[col] for col in update}
        )
    if is_mysql(dialect):
        my_stmt = mysql.insert(table)
        return my_stmt.on_duplicate_key_update({col: my_stmt.inserted[col] for col in update})
    raise _unsupported(dialect)


def supports_insert_returning(dialect: Dialect) -> bool:
    """True when ``INSERT ... RETURNING`` reports exactly the rows an insert-ignore wrote.

    PostgreSQL, SQLite ≥ 3.35 and MariaDB ≥ 10.5 do (MariaDB's ``INSERT IGNORE ...
    RETURNING`` returns only the rows inserted); MySQL has no RETURNING.

    :param dialect: the dialect to ask about.
    """
    return (dialect.name in ("postgresql", "sqlite") or is_mysql(dialect)) and bool(dialect.insert_returning)


def insert_if_absent(conn: Connection, table: sa.Table, row: dict[str, Any]) -> bool:
    """Insert one row unless its primary key exists; True when this call wrote it.

    A concurrent writer of the same key makes this wait for its commit, then skip.

    :param conn: a connection inside the write transaction.
    :param table: the table (its only unique key must be the primary key; see :func:`insert_ignore`).
    :param row: the row's values.
    """
    stmt = insert_ignore(table, conn.dialect)
    if supports_insert_returning(conn.dialect):
        # psycopg 3 reports rowcount -1 for INSERT ... ON CONFLICT DO NOTHING; RETURNING is exact.
        key = next(iter(table.primary_key.columns))
        return conn.execute(stmt.returning(key), row).first() is not None
    return bool(conn.execute(stmt, row).rowcount == 1)


def insert_ignore_many(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[Any]:
    """Insert rows unless their primary key exists; returns the keys this call wrote.

    :param conn: a connection inside the write transaction.
    :param table: the table (its only unique key must be the primary key; see :func:`insert_ignore`).
        The first primary-key column's values are returned.
    :param rows: the rows' values.
    """
    if not rows:
        return []
    stmt = insert_ignore(table, conn.dialect)
    key = next(iter(table.primary_key.columns))
    if supports_insert_returning(conn.dialect):
        # One executemany ("insertmanyvalues"); RETURNING lists exactly the rows written.
        return list(conn.execute(stmt.returning(key), list(rows)).scalars())
    return [row[key.name] for row in rows if conn.execute(stmt, row).rowcount == 1]


@contextlib.contextmanager
def named_lock(conn: Connection, name: str) -> Iterator[None]:
    """Hold a lock named ``name`` for the rest of the transaction: one holder at a time, across processes.

    PostgreSQL: a transaction-level advisory lock (released at commit or rollback). MySQL and
    MariaDB: ``GET_LOCK``, named after the database too (so ledgers in different databases of
    one server do not wait for each other) and released on leaving. SQLite: nothing to take —
    the write transaction's ``BEGIN IMMEDIATE`` already holds the database's write lock.

    :param conn: a connection inside a write transaction.
    :param name: what is locked, e.g. ``yxt_schema`` (at most 30 characters are used on MySQL).
    :raises TimeoutError: when MySQL's lock is not granted within 60 s.
    """
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        yield
        return
    if not is_mysql(conn.dialect):
        yield
        return
    # Lock names are limited to 64 characters: a prefix of the name, then the database's hash.
    lock = "CONCAT(:prefix, MD5(COALESCE(DATABASE(), '')))"
    got = conn.execute(sa.text(f"SELECT GET_LOCK({lock}, 60)"), {"prefix": name[:30] + "_"}).scalar()
    if got != 1:
        raise TimeoutError(f"timed out waiting for the ledger lock {name!r}")
    try:
        yield
    finally:
        conn.execute(sa.text(f"SELECT RELEASE_LOCK({lock})"), {"prefix": name[:30] + "_"})


# ---------------------------------------------------------------------------------- the database's clock

# The Julian day of 1970-01-01T00:00Z: SQLite 3.40 has no sub-second unixepoch().
_UNIX_EPOCH_JULIAN_DAY = 2440587.5


def database_clock(dialect: Dialect) -> sa.ColumnElement[float]:
    """The database server's current time in seconds since the Unix epoch, as a float.

    Every worker that reads this agrees on one clock, however far its own is off: the shared
    send pace (``yxt_account_pace``) is kept on it. Each is the time *when evaluated*, not when
    the transaction (PostgreSQL ``now()``) or statement (MySQL ``NOW()``) began, because a
    reservation may have waited for the row lock first: PostgreSQL ``clock_timestamp()``
    (µs), MySQL/MariaDB ``SYSDATE(6)`` (µs), SQLite ``julianday('now')`` (ms; on one machine,
    the machine's clock).

    :param dialect: the dialect of the connection the expression will run on.
    :raises NotImplementedError: for a backend other than PostgreSQL, SQLite, MySQL/MariaDB.
    """
    if dialect.name == "postgresql":
        return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Double)
    if dialect.name == "sqlite":
        return (sa.func.julianday("now") - _UNIX_EPOCH_JULIAN_DAY) * 86400.0
    if is_mysql(dialect):
        # SQLAlchemy renders func.sysdate as the bare ANSI keyword, without the precision; the
        # DECIMAL this yields becomes a float when read.
        return sa.literal_column("UNIX_TIMESTAMP(SYSDATE(6))", sa.Double)
    raise _unsupported(dialect)


def time_bucket(dialect: Dialect, column: sa.ColumnElement[Any], seconds: int) -> sa.ColumnElement[int]:
    """Which interval of ``seconds`` since the Unix epoch a stored timestamp falls in, as an integer.

    Computed on the stored value, in UTC on every backend: PostgreSQL's ``timestamptz``
    epoch; on SQLite and MySQL/MariaDB the stored value is UTC without a zone, so it is read
    as it is (MySQL's ``UNIX_TIMESTAMP`` would apply the session's time zone).

    :param dialect: the dialect of the connection the expression will run on.
    :param column: a :class:`~yxt_provider.ledger.schema.UTCDateTime` column.
    :param seconds: the interval's width.
    :raises NotImplementedError: for a backend other than PostgreSQL, SQLite, MySQL/MariaDB.
    """
    width = sa.literal(int(seconds), literal_execute=True)
    if dialect.name == "postgresql":
        return sa.cast(sa.func.floor(sa.extract("epoch", column) / width), sa.BigInteger)
    if dialect.name == "sqlite":
        # Integer division of a non-negative integer: the floor.
        return sa.cast(sa.func.strftime("%s", column), sa.Integer).op("/")(width)
    if is_mysql(dialect):
        epoch = sa.func.timestampdiff(sa.literal_column("SECOND"), sa.literal("1970-01-01 00:00:00"), column)
        return epoch.op("DIV")(width)
    raise _unsupported(dialect)


def prepare_pace_transaction(conn: Connection) -> None:
    """Set up a send-pace transaction (PostgreSQL: commit without waiting for the WAL flush; MySQL: UTC).

    A pace change runs once per send request and holds the account's row lock until it
    commits, so the commit's flush bounds every worker's request rate (measured here: 1.7 ms
    a transaction with the flush, 1.0 ms without). What a database crash could lose is
    harmless: the last few reservations, after which the next ones start from the clock
    again. SQLite's ``synchronous=NORMAL`` (WAL) already commits without a flush; InnoDB's
    flush is server-wide (``innodb_flush_log_at_trx_commit``), not per transaction.

    :param conn: a connection at the start of the write transaction.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
    elif is_mysql(conn.dialect):
        # UNIX_TIMESTAMP(SYSDATE(6)) reads the date back in the session's time zone: in one with
        # daylight saving it jumps an hour at the change. In UTC it runs straight. (Session-wide,
        # and harmless: the ledger computes every stored time in Python.)
        conn.exec_driver_sql("SET time_zone = '+00:00'")


# ---------------------------------------------------------------------------------- pages of rows


def page_source(dialect: Dialect, columns: Columns) -> Any:
    """A subquery ``page`` with the named ``columns``, read from one bound parameter.

    The parameter (see :func:`page_json`) is the rows as one JSON array of arrays: one
    parameter instead of one per value, so a statement stays small, compiles once, and
    SQLite's limit on bound parameters never applies. SQLite reads it with ``json_each``,
    PostgreSQL with ``jsonb_array_elements``. Measured on PostgreSQL: psycopg sends one
    JSON string far faster than it dumps arrays element by element; arrays of arrays cost
    a third of the ``json.dumps`` time of objects; and as ``jsonb`` the text is parsed
    once, where ``json`` would parse an element again for every field read from it.

    :param dialect: PostgreSQL or SQLite.
    :param columns: (name, type) of each column, in row order.
    :raises NotImplementedError: on other backends.
    """
    fields: list[sa.ColumnElement[Any]]
    if dialect.name == "postgresql":
        each = sa.func.jsonb_array_elements(
            sa.cast(sa.bindparam(_PAGE_PARAM, type_=sa.Text), postgresql.JSONB)
        ).table_valued("value")
        fields = [
            sa.cast(each.c.value.op("->>")(sa.literal_column(str(i))), type_)
            for i, (_, type_) in enumerate(columns)
        ]
    elif dialect.name == "sqlite":
        each = sa.func.json_each(sa.bindparam(_PAGE_PARAM, type_=sa.String)).table_valued("value")
        # json_extract already yields SQLite's own types: no CAST, only the Python-side type.
        fields = [
            sa.type_coerce(sa.func.json_extract(each.c.value, f"$[{i}]"), type_)
            for i, (_, type_) in enumerate(columns)
        ]
    else:
        raise _unsupported(dialect)
    labelled = (field.label(name) for field, (name, _) in zip(fields, columns, strict=True))
    return sa.select(*labelled).select_from(each).subquery("page")


def page_json(rows: Sequence[Sequence[Any]]) -> dict[str, str]:
    """The parameters of a statement over :func:`page_source`: ``rows`` as the JSON it reads.

    :param rows: tuples in the order of the columns given to :func:`page_source`.
    """
    return {_PAGE_PARAM: json.dumps(rows)}


# ---------------------------------------------------------------------------------- plans

#: The columns of a planned message row, in the order the plan writers take them.
MESSAGE_PLAN_COLUMNS = (
    "serial_number",
    "phone",
    "campaign_id",
    "batch_index",
    "position",
    "status",
    "input_row",
)
_MESSAGE_PLAN_TYPES: Columns = [
    (name, sa.Integer() if name in ("batch_index", "position", "input_row") else sa.String())
    for name in MESSAGE_PLAN_COLUMNS
]


def message_writer(conn: Connection) -> Callable[[list[MessageRow]], None]:
    """A function inserting planned message rows (tuples in :data:`MESSAGE_PLAN_COLUMNS` order).

    On SQLite the rows go straight to the driver's ``executemany``: building SQLAlchemy
    parameter dicts cost more than SQLite's own insert work (measured: ~60 % of the time
    of a million-row plan). The columns left out (result_code, sent_at, receipt_at) are
    NULL, so no type processing is skipped. PostgreSQL gets each chunk as one JSON page
    (``INSERT ... SELECT`` from :func:`page_source`; measured ~3x the rate of multi-row
    VALUES). Elsewhere SQLAlchemy's batched "insertmanyvalues" executemany is used.

    :param conn: the connection of the plan's transaction.
    """
    if conn.dialect.name == "sqlite":
        sql = (
            f"INSERT INTO {schema.messages.name} ({', '.join(MESSAGE_PLAN_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in MESSAGE_PLAN_COLUMNS)})"
        )

        def write_sqlite(rows: list[MessageRow]) -> None:
            conn.exec_driver_sql(sql, rows)

        return write_sqlite
    if conn.dialect.name == "postgresql":
        page = page_source(conn.dialect, _MESSAGE_PLAN_TYPES)
        insert = schema.messages.insert().from_select(
            list(MESSAGE_PLAN_COLUMNS), sa.select(*(page.c[name] for name in MESSAGE_PLAN_COLUMNS))
        )

        def write_postgresql(rows: list[MessageRow]) -> None:
            conn.execute(insert, page_json(rows))

        return write_postgresql
    core_insert = schema.messages.insert()

    def write_core(rows: list[MessageRow]) -> None:
        conn.execute(core_insert, [dict(zip(MESSAGE_PLAN_COLUMNS, row, strict=True)) for row in rows])

    return write_core


def refresh_statistics(engine: Engine) -> None:
    """After a plan: refresh the PostgreSQL planner's statistics of the messages table.

    Receipt pages join the table by primary key; with statistics from before a large
    plan, the planner can misjudge its size. ANALYZE samples a bounded number of rows
    (fast even at millions of messages) and runs after the plan's commit, so it holds no
    lock inside that transaction. Best effort: a failure only leaves stale statistics.
    SQLite has no such statistics here, and InnoDB refreshes its own as rows change.

    :param engine: the ledger engine.
    """
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"ANALYZE {schema.messages.name}")
            conn.commit()
    except sa.exc.DBAPIError as exc:
        log.warning("ledger: ANALYZE of %s failed (%s); continuing", schema.messages.name, type(exc).__name__)


# ---------------------------------------------------------------------------------- receipts

_RECEIPT_COLUMNS: Columns = [("serial_number", sa.String()), ("phone", sa.String()), ("result", sa.Integer())]
_STORED_COLUMNS: Columns = [*_RECEIPT_COLUMNS, ("matched", sa.Boolean())]
_RECEIPT_INSERT_COLUMNS = ["serial_number", "phone", "result", "received_at", "matched"]
_NOW = sa.bindparam("now", type_=schema.UTCDateTime)
# Two SETs in one string: sent as one simple query (no parameters), so one round trip.
_PG_FORCE_INDEX_JOINS = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"


def receipt_writer(dialect: Dialect) -> ReceiptWriter:
    """The function that stores receipts on this backend (see each one's notes).

    Every one inserts each receipt at most once (insert-ignore on its primary key), and
    settles exactly the messages of the receipts *it* inserted that were not final, so
    concurrent callers with overlapping pages count every receipt once.

    :param dialect: the dialect of the ledger's engine.
    """
    if dialect.name == "postgresql":
        return _store_receipts_postgresql
    if dialect.name == "sqlite" and supports_insert_returning(dialect):
        return _store_receipts_sqlite
    return _store_receipts_generic


def prepare_receipt_transaction(conn: Connection) -> None:
    """Set up a transaction that stores receipts (PostgreSQL: always probe the messages index).

    A page names a few hundred messages by primary key. With stale statistics (a large
    plan written since the last ANALYZE) the planner would hash-join a sequential scan of
    every message instead, once per page (measured: 50 ms a page at 100k rows).

    :param conn: a connection at the start of the write transaction.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_PG_FORCE_INDEX_JOINS)


@functools.cache
def _postgresql_receipt_statement() -> sa.Select[Any, Any]:
    """One statement (one round trip): insert the receipts, then settle their messages.

    ``WITH ins AS (INSERT ... ON CONFLICT DO NOTHING RETURNING ...), upd AS (UPDATE
    messages ... FROM ins) SELECT count(*), count(*) FILTER (WHERE matched) FROM ins``.
    """
    dialect = postgresql.dialect()
    page = page_source(dialect, _RECEIPT_COLUMNS)
    open_message = sa.exists().where(
        _m.serial_number == page.c.serial_number, _m.phone == page.c.phone, expressions.not_final()
    )
    ins = (
        insert_ignore(schema.receipts, dialect)
        .from_select(
            _RECEIPT_INSERT_COLUMNS,
            sa.select(page.c.serial_number, page.c.phone, page.c.result, _NOW, open_message),
        )
        .returning(_r.serial_number, _r.phone, _r.result, _r.matched)
        .cte("ins")
    )
    upd = (
        sa.update(schema.messages)
        .where(ins.c.matched, _m.serial_number == ins.c.serial_number, _m.phone == ins.c.phone)
        .where(expressions.not_final())
        .values(status=expressions.receipt_status(ins.c.result), result_code=ins.c.result, receipt_at=_NOW)
        .cte("upd")
    )
    return sa.select(sa.func.count(), sa.func.count().filter(ins.c.matched)).select_from(ins).add_cte(upd)


def _store_receipts_postgresql(
    conn: Connection, rows: Sequence[ReceiptRow], now: datetime
) -> tuple[int, int]:
    """PostgreSQL: one statement storing receipts, then updating their messages.

    The receipts are inserted first (insert-ignore), each with ``matched`` = its message
    exists and is not final; then exactly the messages of the receipts *this statement
    inserted* are updated. The receipt's primary key is the only point of contention: a
    concurrent caller inserting the same receipt waits for ours to commit, then skips it
    (and so never touches its message). Callers insert in key order (the page is sorted),
    so they cannot deadlock on receipts, and they never update the same message.
    """
    stored, matched = conn.execute(_postgresql_receipt_statement(), {**page_json(rows), "now": now}).one()
    return int(stored), int(matched)


@functools.cache
def _sqlite_receipt_statements() -> tuple[sa.Update, Insert]:
    dialect = sqlite.dialect()
    page = page_source(dialect, _RECEIPT_COLUMNS)
    settle = (
        sa.update(schema.messages)
        .where(_m.serial_number == page.c.serial_number, _m.phone == page.c.phone, expressions.not_final())
        .values(status=expressions.receipt_status(page.c.result), result_code=page.c.result, receipt_at=_NOW)
        .returning(_m.serial_number, _m.phone)
    )
    stored = page_source(dialect, _STORED_COLUMNS)
    source = sa.select(stored.c.serial_number, stored.c.phone, stored.c.result, _NOW, stored.c.matched)
    # SQLite cannot parse INSERT ... SELECT ... ON CONFLICT without a WHERE in the SELECT.
    keep = (
        insert_ignore(schema.receipts, dialect)
        .from_select(_RECEIPT_INSERT_COLUMNS, source.where(sa.true()))
        .returning(_r.serial_number)
    )
    return settle, keep


def _store_receipts_sqlite(conn: Connection, rows: Sequence[ReceiptRow], now: datetime) -> tuple[int, int]:
    """SQLite: two set-based statements inside the database write lock.

    1. Update the messages the receipts name, where not yet final, RETURNING their keys:
       those are "matched".
    2. Insert-ignore the raw receipts with their matched flag; what it returns is what
       this call stored new.

    A message whose receipt is new is never final (receipts are what make it final), so
    every message updated in (1) gets its receipt inserted by (2). The transaction holds
    SQLite's write lock from its start (``BEGIN IMMEDIATE``), so no other caller writes in between.
    """
    settle, keep = _sqlite_receipt_statements()
    params: dict[str, Any] = {**page_json(rows), "now": now}
    matched = {(row.serial_number, row.phone) for row in conn.execute(settle, params)}
    stored_rows = [(serial, phone, result, (serial, phone) in matched) for serial, phone, result in rows]
    params = {**page_json(stored_rows), "now": now}
    return len(conn.execute(keep, params).all()), len(matched)


# Settles the messages of one serial named by the expanding ``phones`` parameter that share
# one result code: an equality on the key's first column and an IN list on its second is a
# range scan of the primary key on every backend (MariaDB plans a row-constructor IN in an
# UPDATE as a full scan).
_SETTLE = (
    sa.update(schema.messages)
    .where(
        _m.serial_number == sa.bindparam("serial"),
        _m.phone.in_(sa.bindparam("phones", expanding=True)),
        expressions.not_final(),
    )
    .values(
        status=expressions.receipt_status(sa.bindparam("result", type_=sa.Integer)),
        result_code=sa.bindparam("result", type_=sa.Integer),
        receipt_at=_NOW,
    )
)


@functools.lru_cache(maxsize=8)
def _insert_receipts_returning(rows: int) -> sa.TextClause:
    """MariaDB: an insert-ignore of ``rows`` receipts in one multi-row VALUES, RETURNING the keys it wrote.

    Text, built once per page size: SQLAlchemy compiles a Core ``values([...])`` of many
    rows again on every call (measured: half the time of a page), and it has no
    executemany with RETURNING for MySQL dialects. Parameters: ``s<i>``, ``p<i>``,
    ``r<i>``, ``m<i>`` per receipt and ``now``.
    """
    names = ", ".join(_RECEIPT_INSERT_COLUMNS)
    tuples = ", ".join(f"(:s{i}, :p{i}, :r{i}, :now, :m{i})" for i in range(rows))
    sql = (
        f"INSERT IGNORE INTO {schema.receipts.name} ({names}) VALUES {tuples} RETURNING serial_number, phone"
    )
    return sa.text(sql).bindparams(sa.bindparam("now", type_=schema.UTCDateTime))


def _store_receipts_generic(conn: Connection, rows: Sequence[ReceiptRow], now: datetime) -> tuple[int, int]:
    """MySQL/MariaDB, and any backend without the statements above: three steps, no locking read.

    1. Read which of the page's messages exist and are not final (a plain consistent read).
    2. Insert-ignore the receipts with that ``matched`` flag, learning which rows this call
       wrote: from RETURNING (MariaDB ≥ 10.5) or, without it (MySQL), from the rowcount of
       one statement per receipt.
    3. Settle the messages of the matched receipts this call wrote, where still not final:
       one UPDATE per serial and result code in the page.

    As on PostgreSQL, the receipt's primary key is the only point of contention: a
    concurrent caller inserting the same receipt waits for ours to commit, then skips it
    and never touches its message; a message read as open in (1) can only have been
    settled since by whoever stored its receipt, and then our insert of it is skipped.
    There is deliberately no ``SELECT ... FOR UPDATE``: on InnoDB it takes gap locks on
    absent keys, which two callers both hold and then deadlock on when both insert.
    """
    keys = [(serial, phone) for serial, phone, _ in rows]
    open_messages = set(
        conn.execute(
            sa.select(_m.serial_number, _m.phone).where(
                sa.tuple_(_m.serial_number, _m.phone).in_(keys), expressions.not_final()
            )
        ).tuples()
    )
    if is_mysql(conn.dialect) and supports_insert_returning(conn.dialect):
        params: dict[str, Any] = {"now": now}
        for i, (s, p, r) in enumerate(rows):
            params.update({f"s{i}": s, f"p{i}": p, f"r{i}": r, f"m{i}": (s, p) in open_messages})
        new = set(conn.execute(_insert_receipts_returning(len(rows)), params).tuples())
    else:
        insert = insert_ignore(schema.receipts, conn.dialect)
        new = set()
        for s, p, r in rows:
            row = {
                "serial_number": s,
                "phone": p,
                "result": r,
                "received_at": now,
                "matched": (s, p) in open_messages,
            }
            if conn.execute(insert, row).rowcount == 1:
                new.add((s, p))
    # One UPDATE per (serial, result) in the page: a page in arrival order spans a batch or
    # two and a handful of result codes.
    settle: dict[tuple[str, int], list[str]] = {}
    for s, p, r in rows:
        if (s, p) in new and (s, p) in open_messages:
            settle.setdefault((s, r), []).append(p)
    for (serial, result), phones in sorted(settle.items()):
        conn.execute(_SETTLE, {"serial": serial, "phones": phones, "result": result, "now": now})
    return len(new), sum(len(phones) for phones in settle.values())
