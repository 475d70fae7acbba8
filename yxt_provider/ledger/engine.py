"""Engines for the ledger database, tuned per backend.

SQLite (the one-machine default) is set up for several processes writing one file:

- WAL journal: readers never block the writer and the writer never blocks readers.
- ``busy_timeout`` 30 s: a writer waits for the lock instead of failing at once.
- ``synchronous=NORMAL``: durable across process crashes in WAL mode (only an OS crash can
  lose the last commits), and much faster than FULL.
- ``check_same_thread=False``: pooled connections move between threads (triggerer, tests).
- Write transactions start with ``BEGIN IMMEDIATE`` (see :func:`write_transaction`). With
  sqlite3's default deferred BEGIN, a transaction that reads and then writes can fail with
  "database is locked" *without* waiting when another process committed in between; taking
  the write lock up front makes such writers queue on ``busy_timeout`` instead.

PostgreSQL and MySQL/MariaDB get a small pre-pinged, recycled pool: Airflow workers are
long-lived and databases drop idle connections.

Every backend gets ``hide_parameters=True``: bound values (phone numbers) never appear in
the text of a database error.

:func:`retry_transient` runs an idempotent transaction again when the database aborted it
to break a deadlock (PostgreSQL, InnoDB) or a serialization conflict.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext

from yxt_provider.client.numbers import mask_numbers_in_text

__all__ = [
    "SQLITE_BUSY_TIMEOUT_SECONDS",
    "Bind",
    "create_ledger_engine",
    "reading",
    "retry_transient",
    "write_transaction",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Seconds a SQLite connection waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_SECONDS = 30
# One in-process write lock per SQLite engine (see write_transaction).
_SQLITE_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
# Execution option telling the SQLite "begin" hook that this transaction will write.
_WRITE_OPTION = "yxt_write"
# PostgreSQL SQLSTATEs worth retrying a whole idempotent transaction for.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
# MySQL/MariaDB error numbers, likewise: ER_LOCK_DEADLOCK (InnoDB rolled the transaction back).
_RETRYABLE_MYSQL_ERRORS = frozenset({1213})


def create_ledger_engine(url: str | sa.URL, **engine_kwargs: Any) -> Engine:
    """Create an engine for the ledger at ``url`` with the settings described above.

    No connection is opened here (engines connect lazily), so this is safe at parse time.

    :param url: a SQLAlchemy URL, e.g. ``sqlite:////var/lib/yxt/ledger.db`` or
        ``postgresql+psycopg2://user@host/db``.
    :param engine_kwargs: extra ``create_engine`` arguments; they override the defaults.
    """
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    # Bound values are phone numbers: keep them out of exception messages (and so out of
    # task logs). The SQL text is still shown.
    engine_kwargs = {"hide_parameters": True, **engine_kwargs}
    if backend == "sqlite":
        engine = _create_sqlite_engine(parsed, engine_kwargs)
    else:
        kwargs: dict[str, Any] = {
            "pool_pre_ping": True,
            "pool_recycle": 1800,
            "pool_size": 5,
            "max_overflow": 5,
        }
        kwargs.update(engine_kwargs)
        engine = sa.create_engine(parsed, **kwargs)
    event.listen(engine, "handle_error", _mask_numbers_in_error)
    return engine


def _mask_numbers_in_error(context: ExceptionContext) -> None:
    """Mask phone numbers the database itself wrote into an error.

    ``hide_parameters`` keeps bound values out, but PostgreSQL quotes row values in its
    own text ("DETAIL: Key (serial_number, phone)=(…, 13800138000) already exists"), and
    so does MySQL ("Duplicate entry '13800138000' for key 'PRIMARY'"). Both the driver's
    exception and SQLAlchemy's wrapper carry that text, and a traceback prints both. Every
    text argument is masked: MySQL drivers put the error number first and the message
    second. The exception types, SQLSTATE and error numbers stay as they are.
    """
    for exc in (context.original_exception, context.sqlalchemy_exception):
        if exc is not None and exc.args:
            exc.args = tuple(mask_numbers_in_text(a) if isinstance(a, str) else a for a in exc.args)


def _create_sqlite_engine(url: sa.URL, engine_kwargs: dict[str, Any]) -> Engine:
    in_memory = url.database in (None, "", ":memory:") or "mode=memory" in str(url)
    connect_args = dict(engine_kwargs.pop("connect_args", {}))
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_SECONDS)
    engine = sa.create_engine(url, connect_args=connect_args, **engine_kwargs)

    _SQLITE_WRITE_LOCKS[engine] = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see the "begin" hook below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
            if not in_memory:
                _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
            # 64 MiB page cache: index maintenance of a million-row plan stays in memory.
            cursor.execute("PRAGMA cache_size = -65536")
            cursor.execute("PRAGMA temp_store = MEMORY")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch the database file to WAL (a persistent property of the file).

    Switching needs an exclusive lock and SQLite answers "database is locked" at once,
    without waiting on ``busy_timeout``, when another connection holds the file — e.g. two
    workers opening a new ledger together. So: skip when already WAL, else retry briefly.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that will write; commits on success, rolls back on error.

    On SQLite this takes the database write lock at BEGIN (``BEGIN IMMEDIATE``), so
    concurrent writers queue instead of failing; elsewhere it is a plain transaction.

    :param engine: a ledger engine from :func:`create_ledger_engine`.
    """
    # SQLite's busy handler sleeps in steps of up to 100 ms while another writer holds the
    # lock; threads of one process (the send pool) queue on a lock here instead, and only
    # other processes meet the busy handler.
    lock = _SQLITE_WRITE_LOCKS.get(engine) if engine.dialect.name == "sqlite" else None
    with lock or contextlib.nullcontext(), engine.connect() as conn:
        conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


def retry_transient(func: Callable[[], _T], attempts: int = 3) -> _T:
    """Run an idempotent transaction again after a deadlock or serialization failure.

    :param func: runs the whole transaction (opens and commits it itself).
    :param attempts: how many times to try in all.
    """
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except sa.exc.OperationalError as exc:
            code = _transient_code(exc.orig)
            if attempt == attempts or code is None:
                raise
            log.warning("ledger: transaction aborted by the database (%s); retrying", code)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _transient_code(error: BaseException | None) -> str | int | None:
    """The SQLSTATE or error number of a transient abort, ``None`` for any other error."""
    # psycopg 3 names the SQLSTATE ``sqlstate``; psycopg2 names it ``pgcode``.
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return str(sqlstate)
    # MySQL drivers put the error number first: OperationalError(1213, "Deadlock found ...").
    number = error.args[0] if error is not None and error.args else None
    return number if isinstance(number, int) and number in _RETRYABLE_MYSQL_ERRORS else None


Bind = Engine | Connection
"""What a read can run on: the ledger's engine (a connection of its own) or the caller's connection."""


@contextlib.contextmanager
def reading(bind: Bind) -> Iterator[Connection]:
    """A connection to read from: a new one from an engine (closed after), or the caller's own.

    A new connection reads in one snapshot: every statement of a report sees the same ledger,
    so its counts add up while receipts are being stored. PostgreSQL's default (READ
    COMMITTED) gives each statement its own snapshot, so its reads run in REPEATABLE READ
    (read-only, it never conflicts); MySQL/MariaDB's default already is, and SQLite's read
    transaction is one snapshot.

    :param bind: the ledger's engine, or a connection inside the caller's transaction.
    """
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn
