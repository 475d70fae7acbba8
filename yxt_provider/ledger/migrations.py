"""Schema versioning for the ledger: create the tables, upgrade old databases, idempotently.

How versions are tracked
------------------------
The table ``yxt_schema_version`` holds exactly one row (``id = 1``) whose ``version`` is
the number of the last step applied. :data:`STEPS` is the ordered list of versioned
steps; :data:`LATEST_VERSION` is the last one's number. :func:`ensure_schema` reads the
stored version (0 when the table is missing) and applies every later step, in order, then
writes the new version — all in one transaction where the backend has transactional DDL
(PostgreSQL, SQLite), so a crash leaves the previous version intact. MySQL/MariaDB commit
each DDL statement by itself; there a crash mid-upgrade leaves the old version number with
some tables already created, and the next run's ``checkfirst`` steps skip those.

Adding a version (e.g. replies and opt-outs in a later issue): define the new tables in
:mod:`yxt_provider.ledger.schema`, then append
``MigrationStep(2, "replies and opt-outs", _create(schema.replies, schema.opt_outs))``.
The definitions in ``schema.py`` are always the *latest* shape, and a fresh database runs
every step in order, so a step that creates tables does so from ``schema.py`` with
``checkfirst``; a step that alters a table an earlier step created must first check (with
the inspector) whether the change is already there, because on a fresh database the
earlier step already created the latest shape.

Concurrency
-----------
Two processes (two Airflow workers starting at once) may call :func:`ensure_schema`
together. Each takes a database-wide lock first — ``pg_advisory_xact_lock`` on
PostgreSQL, ``GET_LOCK`` on MySQL, the write lock (``BEGIN IMMEDIATE``) on SQLite — and
then re-reads the version, so the second finds the work done. As a last line of defence an
"already exists" error from a race the lock did not cover (e.g. another program creating
the tables without the lock) is caught and the whole check is retried.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from yxt_provider.ledger import schema
from yxt_provider.ledger.dialects import insert_ignore, named_lock, upsert
from yxt_provider.ledger.engine import write_transaction
from yxt_provider.ledger.views import replace_views

__all__ = [
    "LATEST_VERSION",
    "STEPS",
    "LedgerSchemaError",
    "MigrationStep",
    "current_version",
    "ensure_schema",
]

log = logging.getLogger(__name__)

_SCHEMA_LOCK = "yxt_schema"
_RACE_RETRIES = 5


class LedgerSchemaError(RuntimeError):
    """The ledger database has a schema this version of the provider cannot use."""


@dataclass(frozen=True)
class MigrationStep:
    """One versioned schema change.

    :param version: the version the database has after this step (1, 2, 3, … without gaps).
    :param description: what the step does, for logs.
    :param apply: the change, run on a connection inside the migration transaction.
    """

    version: int
    description: str
    apply: Callable[[Connection], None]


def _create(*tables: sa.Table) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        schema.metadata.create_all(conn, tables=list(tables), checkfirst=True)

    return apply


def _add_columns(table: sa.Table, *names: str) -> Callable[[Connection], None]:
    """Add columns (as ``schema.py`` defines them) to a table an earlier step created, if missing."""

    def apply(conn: Connection) -> None:
        present = {column["name"] for column in sa.inspect(conn).get_columns(table.name)}
        for name in names:
            if name not in present:
                column = table.c[name]
                kind = column.type.compile(dialect=conn.dialect)
                if column.server_default is not None:  # existing rows get the default
                    kind += f" DEFAULT {column.server_default.arg} NOT NULL"  # type: ignore[attr-defined]
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}")

    return apply


def _add_index(table: sa.Table, name: str) -> Callable[[Connection], None]:
    """Create an index (as ``schema.py`` defines it) on a table an earlier step created, if missing."""

    def apply(conn: Connection) -> None:
        if name not in {index["name"] for index in sa.inspect(conn).get_indexes(table.name)}:
            next(index for index in table.indexes if index.name == name).create(conn)

    return apply


def _steps(*parts: Callable[[Connection], None]) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        for part in parts:
            part(conn)

    return apply


def _make_ledger_identity(conn: Connection) -> None:
    """Give the ledger its random key (kept if it has one): every later serial includes it.

    Campaigns planned before keep their serials, which the batches table holds.
    """
    conn.execute(
        insert_ignore(schema.ledger_identity, conn.dialect),
        {"id": 1, "ledger_key": secrets.token_hex(8), "created_at": datetime.now(timezone.utc)},
    )


#: The schema versions, in order; each step is applied once, inside the schema lock.
STEPS: list[MigrationStep] = [
    MigrationStep(
        1,
        "campaigns, batches, messages, receipts",
        _create(schema.campaigns, schema.batches, schema.messages, schema.receipts),
    ),
    MigrationStep(
        2,
        "ledger identity, excluded input rows, messages.input_row",
        _steps(
            _create(schema.ledger_identity, schema.excluded_recipients),
            _add_columns(schema.messages, "input_row"),
            _make_ledger_identity,
        ),
    ),
    MigrationStep(
        3,
        "replies, reply consumers, messages by number",
        _steps(
            _create(schema.replies, schema.reply_handled),
            _add_index(schema.messages, "ix_yxt_messages_phone"),
        ),
    ),
    MigrationStep(
        4,
        "opt-outs; campaigns count the recipients compliance skipped",
        _steps(_create(schema.opt_outs), _add_columns(schema.campaigns, "opted_out", "capped")),
    ),
    # No table changes: messages gain the status "refused" (data.failList), and the views,
    # re-created at every upgrade, count it.
    MigrationStep(5, "messages refused at send; the campaign summary view counts them", _steps()),
    MigrationStep(6, "one send pace per gateway account, shared by every task", _create(schema.account_pace)),
    MigrationStep(
        7,
        "the campaigns view: campaigns by creation (per DAG), opt-outs by the reply that caused them",
        _steps(
            _add_index(schema.campaigns, "ix_yxt_campaigns_created"),
            _add_index(schema.campaigns, "ix_yxt_campaigns_dag_created"),
            _add_index(schema.opt_outs, "ix_yxt_opt_outs_reply"),
        ),
    ),
    MigrationStep(
        8,
        "approvals by SMS: questions, their approvers, what each reply came to",
        _create(schema.approval_questions, schema.approval_approvers, schema.approval_outcomes),
    ),
]
#: The schema version this package writes.
LATEST_VERSION = STEPS[-1].version


def current_version(conn: Connection) -> int:
    """The schema version stored in the database, 0 when the ledger was never created.

    :param conn: a connection to the ledger database.
    """
    if not sa.inspect(conn).has_table(schema.schema_version.name):
        return 0
    value = conn.execute(
        sa.select(schema.schema_version.c.version).where(schema.schema_version.c.id == 1)
    ).scalar_one_or_none()
    return int(value or 0)


def ensure_schema(engine: Engine) -> int:
    """Create or upgrade the ledger tables; a no-op when they are current. Returns the version.

    Safe to call from several processes at once (see the module docstring).

    :param engine: the ledger engine.
    :raises LedgerSchemaError: when the database was written by a newer provider version.
    """
    _check_steps()
    with engine.connect() as conn:
        # Fast path without any lock: the common case on every task start.
        version = current_version(conn)
        conn.rollback()
    if version == LATEST_VERSION:
        return version
    _refuse_newer(version)
    for attempt in range(1, _RACE_RETRIES + 1):
        try:
            return _migrate_locked(engine)
        except sa.exc.DBAPIError as exc:
            # Lost a creation race the lock did not cover: re-check from the top.
            if attempt == _RACE_RETRIES or not _is_already_exists(exc):
                raise
            log.info("ledger schema created concurrently by another process; checking again")
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _migrate_locked(engine: Engine) -> int:
    with write_transaction(engine) as conn, named_lock(conn, _SCHEMA_LOCK):
        version = current_version(conn)
        _refuse_newer(version)
        if version == LATEST_VERSION:
            return version
        schema.metadata.create_all(conn, tables=[schema.schema_version], checkfirst=True)
        for step in STEPS:
            if step.version > version:
                log.info("ledger schema: applying version %d (%s)", step.version, step.description)
                step.apply(conn)
        # Views are derived: re-created at every upgrade, they always match this code.
        replace_views(conn)
        conn.execute(
            upsert(schema.schema_version, conn.dialect, key=["id"], update=["version", "updated_at"]),
            {"id": 1, "version": LATEST_VERSION, "updated_at": datetime.now(timezone.utc)},
        )
        return LATEST_VERSION


def _refuse_newer(version: int) -> None:
    if version > LATEST_VERSION:
        raise LedgerSchemaError(
            f"the ledger database is at schema version {version}, but this yxt-provider "
            f"supports up to {LATEST_VERSION}: upgrade yxt-provider on every worker"
        )


def _check_steps() -> None:
    expected = list(range(1, len(STEPS) + 1))
    if [step.version for step in STEPS] != expected:
        raise LedgerSchemaError(f"migration steps must be numbered {expected} without gaps")


def _is_already_exists(exc: sa.exc.DBAPIError) -> bool:
    text = str(exc.orig).lower()
    # PostgreSQL reports a concurrent CREATE TABLE as a pg_type unique violation.
    return "already exists" in text or "duplicate key" in text or "pg_type_typname_nsp_index" in text
