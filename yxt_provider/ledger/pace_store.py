"""The send pace a gateway account shares between every task and worker: ``yxt_account_pace``.

One row per account. A change (reserving a send slot, cutting the rate after a code 11)
is one short write transaction: the row is read under a row lock (``SELECT … FOR
UPDATE`` on PostgreSQL and MySQL/MariaDB; on SQLite the write transaction's ``BEGIN
IMMEDIATE`` already holds the database's write lock) together with the database's clock,
read *after* the lock was granted, so a reservation that waited for another one still
sees the right "now". What the new row is, the caller decides (the pacing rules live in
:mod:`yxt_provider.campaign.account_pace`); this module only keeps the transaction short
and the clock single.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine

from yxt_provider.ledger import schema
from yxt_provider.ledger.dialects import database_clock, insert_if_absent, prepare_pace_transaction
from yxt_provider.ledger.engine import reading, retry_transient, write_transaction
from yxt_provider.ledger.models import AccountPace, PaceChange

__all__ = ["PaceUpdate", "change_pace", "database_now", "get_pace"]

PaceUpdate = Callable[[AccountPace, float], AccountPace]
"""Given the row under the lock and the database's clock, the row to write."""

_p = schema.account_pace.c
_FIELDS = ("next_slot", "rate", "max_rate", "throttles", "last_throttle_at")
# Per backend name: a dict, not functools.cache over the dialect, which would keep every engine's.
_STATEMENTS: dict[str, tuple[sa.Select[Any], sa.Update]] = {}


def _record(row: Any) -> AccountPace:
    return AccountPace(
        account_key=row.account_key,
        next_slot=float(row.next_slot),
        rate=float(row.rate),
        max_rate=float(row.max_rate),
        throttles=int(row.throttles),
        last_throttle_at=None if row.last_throttle_at is None else float(row.last_throttle_at),
    )


def _statements(dialect: Dialect) -> tuple[sa.Select[Any], sa.Update]:
    """The locking read and the write of a pace change, built once per backend (they run per request)."""
    if dialect.name not in _STATEMENTS:
        _STATEMENTS[dialect.name] = _build_statements(dialect)
    return _STATEMENTS[dialect.name]


def _build_statements(dialect: Dialect) -> tuple[sa.Select[Any], sa.Update]:
    now = database_clock(dialect).label("db_now")
    read = sa.select(schema.account_pace, now).where(_p.account_key == sa.bindparam("key")).with_for_update()
    write = (
        sa.update(schema.account_pace)
        .where(_p.account_key == sa.bindparam("key"))
        .values({name: sa.bindparam(f"new_{name}") for name in (*_FIELDS, "updated_at")})
    )
    return read, write


def _locked_row(conn: Connection, account_key: str) -> tuple[AccountPace, float] | None:
    read, _ = _statements(conn.dialect)
    row = conn.execute(read, {"key": account_key}).first()
    return None if row is None else (_record(row), float(row.db_now))


def change_pace(
    engine: Engine,
    account_key: str,
    update: PaceUpdate,
    *,
    initial_rate: float,
    clock: Callable[[], float] = time.monotonic,
) -> PaceChange:
    """Lock the account's row, apply ``update`` to it with the database's clock, write it back.

    :param engine: the ledger engine.
    :param account_key: the account.
    :param update: computes the new row from the locked one and the database's "now".
    :param initial_rate: the rate (and ceiling) of a row created by this call, the account's first.
    :param clock: the caller's monotonic clock, read just after the row (``PaceChange.read_at``).
    """

    def attempt() -> PaceChange:
        with write_transaction(engine) as conn:
            prepare_pace_transaction(conn)
            locked = _locked_row(conn, account_key)
            if locked is None:
                # The account's first reservation on this ledger: create the row (a concurrent
                # creator makes this wait, then skip), then lock it like any other time.
                first_now = float(conn.execute(sa.select(database_clock(conn.dialect))).scalar_one())
                insert_if_absent(
                    conn,
                    schema.account_pace,
                    {
                        "account_key": account_key,
                        "next_slot": first_now,
                        "rate": initial_rate,
                        "max_rate": initial_rate,
                        "throttles": 0,
                        "last_throttle_at": None,
                        "updated_at": datetime.now(timezone.utc),
                    },
                )
                locked = _locked_row(conn, account_key)
                assert locked is not None, "the row was just created"
            read_at = clock()
            before, now = locked
            after = update(before, now)
            values = {f"new_{name}": getattr(after, name) for name in _FIELDS}
            _, write = _statements(conn.dialect)
            conn.execute(write, {"key": account_key, **values, "new_updated_at": datetime.now(timezone.utc)})
            return PaceChange(before=before, after=after, now=now, read_at=read_at)

    # Two first reservations can deadlock on MySQL (gap locks of the missing row); a retry finds it.
    return retry_transient(attempt)


def get_pace(engine: Engine, account_key: str) -> AccountPace | None:
    """The account's row, or ``None`` before its first reservation.

    :param engine: the ledger engine.
    :param account_key: the account.
    """
    with reading(engine) as conn:
        row = conn.execute(sa.select(schema.account_pace).where(_p.account_key == account_key)).first()
    return None if row is None else _record(row)


def database_now(engine: Engine) -> float:
    """The database's clock, in seconds since the Unix epoch.

    :param engine: the ledger engine.
    """
    with reading(engine) as conn:
        return float(conn.execute(sa.select(database_clock(conn.dialect))).scalar_one())
