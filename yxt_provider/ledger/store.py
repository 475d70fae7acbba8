"""The delivery ledger: plans, send progress and receipts in SQL tables.

Everything here is one short transaction per call, so a process killed at any instant
leaves the ledger at a state some earlier call committed. Nothing here logs a phone number.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from yxt_provider.client.models import Receipt
from yxt_provider.ledger import schema, views
from yxt_provider.ledger.engine import create_ledger_engine, write_transaction
from yxt_provider.ledger.migrations import ensure_schema
from yxt_provider.ledger.models import BatchRecord, CampaignRecord, PlannedBatch, ReceiptIngestCounts
from yxt_provider.ledger.report import DeliveryReport
from yxt_provider.ledger.upsert import insert_ignore, supports_insert_returning

__all__ = ["Ledger", "LedgerError", "UnknownBatchError", "UnknownCampaignError"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# Rows per executemany when writing a plan: large enough to amortise the per-call cost,
# small enough that a million-recipient plan never holds more than this many dicts.
PLAN_CHUNK_ROWS = 10_000
# Receipts per SQL statement when storing: bounds statement size (and SQLite's JSON text).
RECEIPT_CHUNK_ROWS = 5_000
# PostgreSQL SQLSTATEs worth retrying a whole idempotent transaction for.
_RETRYABLE_PGCODES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure

_c = schema.campaigns.c
_b = schema.batches.c
_m = schema.messages.c
_r = schema.receipts.c


class LedgerError(RuntimeError):
    """Base class of the ledger's own errors."""


class UnknownCampaignError(LedgerError, LookupError):
    """No campaign with that id is in the ledger."""


class UnknownBatchError(LedgerError, LookupError):
    """No batch with that (campaign, index) is in the ledger."""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Ledger:
    """The delivery ledger over one SQL database (SQLite, PostgreSQL or MySQL).

    Pure Python and SQLAlchemy Core: usable from operators, triggers, scripts and tests.
    Every method is one transaction; the object itself holds no state besides the engine,
    so one instance can be shared by threads.

    :param engine: an engine from :func:`~yxt_provider.ledger.engine.create_ledger_engine`
        (other engines work, but SQLite then lacks the concurrency settings).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> Ledger:
        """Create the engine for ``url`` and make sure the schema is current.

        :param url: a SQLAlchemy database URL.
        """
        ledger = cls(create_ledger_engine(url))
        ledger.ensure_schema()
        return ledger

    def ensure_schema(self) -> None:
        """Create or upgrade the ledger tables (idempotent, safe to race)."""
        ensure_schema(self.engine)

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()

    # ------------------------------------------------------------------ send side

    def get_campaign(self, campaign_id: str) -> CampaignRecord | None:
        """The campaign row, or ``None`` when no plan was written for it.

        :param campaign_id: the campaign.
        """
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(schema.campaigns).where(_c.campaign_id == campaign_id)).one_or_none()
        if row is None:
            return None
        return CampaignRecord(**row._asdict())

    def create_plan(self, campaign: CampaignRecord, batches: Iterable[PlannedBatch]) -> bool:
        """Write a campaign with all its batches and messages (status ``planned``) in one transaction.

        ``batches`` is consumed lazily and messages are inserted in chunks of
        :data:`PLAN_CHUNK_ROWS`, so memory stays bounded for million-recipient plans. The
        campaign's ``planned`` and ``batches`` columns are set from what was actually
        written. Numbers are stored with their position in the batch, so
        :meth:`batch_numbers` returns them in the planned order.

        :param campaign: the campaign row (``created_at``/``updated_at`` default to now).
        :param batches: the batches in any order, each with its numbers.
        :returns: True when written; False (writing nothing) when the campaign already
            exists — also when another process wrote it concurrently.
        :raises ValueError: when a batch names another campaign or a status is unknown.
        """
        if campaign.status not in schema.CAMPAIGN_STATUSES:
            raise ValueError(f"unknown campaign status {campaign.status!r}")
        now = _utcnow()
        row = _campaign_row(campaign, now)
        with write_transaction(self.engine) as conn:
            # The campaign row goes first: on PostgreSQL a concurrent writer of the same id
            # blocks here until we commit, then inserts nothing and returns False.
            if not self._insert_campaign(conn, row):
                return False
            n_batches, n_messages = self._write_batches(conn, campaign.campaign_id, batches)
            if (n_batches, n_messages) != (campaign.batches, campaign.planned):
                conn.execute(
                    sa.update(schema.campaigns)
                    .where(_c.campaign_id == campaign.campaign_id)
                    .values(batches=n_batches, planned=n_messages)
                )
        if self.engine.dialect.name == "postgresql":
            self._analyze_messages()
        log.info(
            "ledger: plan for campaign %s written: %d batches, %d messages",
            campaign.campaign_id,
            n_batches,
            n_messages,
        )
        return True

    def _analyze_messages(self) -> None:
        """Refresh the planner's statistics of the messages table after a plan was written.

        Receipt pages join the table by primary key; with statistics from before a large
        plan, the planner can misjudge its size. ANALYZE samples a bounded number of rows
        (fast even at millions of messages) and runs after the plan's commit, so it holds
        no lock inside that transaction. Best effort: a failure only leaves stale statistics.
        """
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql(f"ANALYZE {schema.messages.name}")
                conn.commit()
        except sa.exc.DBAPIError as exc:
            log.warning(
                "ledger: ANALYZE of %s failed (%s); continuing", schema.messages.name, type(exc).__name__
            )

    @staticmethod
    def _insert_campaign(conn: Connection, row: dict[str, Any]) -> bool:
        stmt = insert_ignore(schema.campaigns, conn.dialect)
        if supports_insert_returning(conn.dialect):
            # psycopg 3 reports rowcount -1 for INSERT ... ON CONFLICT DO NOTHING; RETURNING is exact.
            return conn.execute(stmt.returning(_c.campaign_id), row).first() is not None
        return bool(conn.execute(stmt, row).rowcount == 1)

    def _write_batches(
        self, conn: Connection, campaign_id: str, batches: Iterable[PlannedBatch]
    ) -> tuple[int, int]:
        batch_rows: list[dict[str, Any]] = []
        message_rows: list[tuple[str, str, str, int, int, str]] = []
        n_batches = n_messages = 0
        insert_messages = _message_writer(conn)

        def flush() -> None:
            if batch_rows:
                conn.execute(schema.batches.insert(), batch_rows)
                batch_rows.clear()
            if message_rows:
                insert_messages(message_rows)
                message_rows.clear()

        for batch in batches:
            if batch.campaign_id != campaign_id:
                raise ValueError(
                    f"batch {batch.batch_index} belongs to campaign {batch.campaign_id!r}, not {campaign_id!r}"
                )
            numbers = batch.numbers
            batch_rows.append(
                {
                    "campaign_id": campaign_id,
                    "batch_index": batch.batch_index,
                    "serial_number": batch.serial_number,
                    "template_id": batch.template_id,
                    "content": batch.content,
                    "content_hash": batch.content_hash,
                    "size": len(numbers),
                    "state": "planned",
                    "attempts": 0,
                    "gateway_task_id": None,
                    "duplicate": False,
                    "attempted_at": None,
                    "sent_at": None,
                    "error_code": None,
                    "error": None,
                }
            )
            serial, index = batch.serial_number, batch.batch_index
            message_rows.extend(
                (serial, phone, campaign_id, index, position, "planned")
                for position, phone in enumerate(numbers)
            )
            n_batches += 1
            n_messages += len(numbers)
            if len(message_rows) >= PLAN_CHUNK_ROWS:
                flush()
        flush()
        return n_batches, n_messages

    def iter_batches(self, campaign_id: str) -> list[BatchRecord]:
        """Every batch of the campaign, ordered by ``batch_index`` (without numbers).

        :param campaign_id: the campaign.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(schema.batches).where(_b.campaign_id == campaign_id).order_by(_b.batch_index)
            ).all()
        return [BatchRecord(**row._asdict()) for row in rows]

    def get_batch(self, campaign_id: str, batch_index: int) -> BatchRecord | None:
        """One batch, or ``None``.

        :param campaign_id: the campaign.
        :param batch_index: the batch.
        """
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(schema.batches).where(_b.campaign_id == campaign_id, _b.batch_index == batch_index)
            ).one_or_none()
        return None if row is None else BatchRecord(**row._asdict())

    def batch_numbers(self, campaign_id: str, batch_index: int) -> list[str]:
        """The batch's numbers in the order they were planned (the ``position`` column).

        :param campaign_id: the campaign.
        :param batch_index: the batch.
        """
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(_m.phone)
                    .where(_m.campaign_id == campaign_id, _m.batch_index == batch_index)
                    .order_by(_m.position)
                ).scalars()
            )

    def mark_attempted(self, campaign_id: str, batch_index: int) -> BatchRecord:
        """Record that a send attempt of the batch starts: ``planned``/``failed`` → ``attempted``.

        ``sent`` keeps its state; ``attempts`` grows by one, ``attempted_at`` is now, and the
        last error is cleared: from here until an answer is recorded, the outcome is
        *unknown*, which is what a crash mid-request leaves behind. Call it *before* the
        request is sent.

        :param campaign_id: the campaign.
        :param batch_index: the batch.
        :returns: the batch as it was just before (read in the same transaction), so the
            caller knows whether an earlier attempt may have been accepted, whoever made it.
        :raises UnknownBatchError: when the batch is not in the ledger.
        """
        with write_transaction(self.engine) as conn:
            before = conn.execute(
                sa.select(schema.batches)
                .where(_b.campaign_id == campaign_id, _b.batch_index == batch_index)
                .with_for_update()
            ).one_or_none()
            if before is None:
                raise UnknownBatchError(f"no batch {batch_index} in campaign {campaign_id!r}")
            conn.execute(
                sa.update(schema.batches)
                .where(_b.campaign_id == campaign_id, _b.batch_index == batch_index)
                .values(
                    state=sa.case((_b.state.in_(("planned", "failed")), "attempted"), else_=_b.state),
                    attempts=_b.attempts + 1,
                    attempted_at=_utcnow(),
                    error_code=None,
                    error=None,
                )
            )
        return BatchRecord(**before._asdict())

    def mark_sent(
        self, campaign_id: str, batch_index: int, *, gateway_task_id: str | None, duplicate: bool
    ) -> None:
        """Record that the gateway accepted the batch.

        Only the batch row changes: its messages count as ``sent`` through the batch (see
        :mod:`yxt_provider.ledger.views`), which keeps this at one row per 1000 recipients on
        the send path. Calling it again for a sent batch changes nothing (the first
        acceptance stays on record).

        :param campaign_id: the campaign.
        :param batch_index: the batch.
        :param gateway_task_id: the gateway's ``taskId`` (``None`` when accepted as a duplicate).
        :param duplicate: True when accepted as code 15 (the batch was sent by an earlier attempt).
        :raises UnknownBatchError: when the batch is not in the ledger.
        """
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                sa.update(schema.batches)
                .where(_b.campaign_id == campaign_id, _b.batch_index == batch_index, _b.state != "sent")
                .values(state="sent", gateway_task_id=gateway_task_id, duplicate=duplicate, sent_at=_utcnow())
            )
            if result.rowcount == 0:
                self._require_batch(conn, campaign_id, batch_index)

    def mark_batch_error(self, campaign_id: str, batch_index: int, *, code: int | None, error: str) -> None:
        """Record why the last attempt of a batch failed; the state is unchanged.

        Do not put phone numbers in ``error`` (mask them first).

        :param campaign_id: the campaign.
        :param batch_index: the batch.
        :param code: the gateway result code, ``None`` for transport errors.
        :param error: a short description.
        :raises UnknownBatchError: when the batch is not in the ledger.
        """
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                sa.update(schema.batches)
                .where(_b.campaign_id == campaign_id, _b.batch_index == batch_index)
                .values(error_code=code, error=error)
            )
            if result.rowcount == 0:
                raise UnknownBatchError(f"no batch {batch_index} in campaign {campaign_id!r}")

    def set_campaign_status(self, campaign_id: str, status: str, *, error: str | None = None) -> None:
        """Set the campaign status (and its error text; ``None`` clears it).

        :param campaign_id: the campaign.
        :param status: ``planned``, ``sending``, ``sent`` or ``failed``.
        :param error: why it failed, masked.
        :raises ValueError: for an unknown status.
        :raises UnknownCampaignError: when the campaign is not in the ledger.
        """
        if status not in schema.CAMPAIGN_STATUSES:
            raise ValueError(
                f"unknown campaign status {status!r}; expected one of {schema.CAMPAIGN_STATUSES}"
            )
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                sa.update(schema.campaigns)
                .where(_c.campaign_id == campaign_id)
                .values(status=status, error=error, updated_at=_utcnow())
            )
            if result.rowcount == 0:
                raise UnknownCampaignError(f"no campaign {campaign_id!r} in the ledger")

    def campaign_counts(self, campaign_id: str) -> dict[str, int]:
        """Batches by state and messages by status, every state present (zeros included).

        Keys: ``batches_<state>`` for each batch state, ``batches_total``,
        ``messages_<status>`` for each message status, ``messages_total``.

        :param campaign_id: the campaign.
        """
        counts = {f"batches_{state}": 0 for state in schema.BATCH_STATES}
        counts.update({f"messages_{status}": 0 for status in schema.MESSAGE_STATUSES})
        with self.engine.connect() as conn:
            for state, n in conn.execute(
                sa.select(_b.state, sa.func.count()).where(_b.campaign_id == campaign_id).group_by(_b.state)
            ):
                counts[f"batches_{state}"] = int(n)
            for status, n in conn.execute(
                sa.select(views.message_status, sa.func.count())
                .select_from(views.messages_with_batches)
                .where(_m.campaign_id == campaign_id)
                .group_by(views.message_status)
            ):
                counts[f"messages_{status}"] = int(n)
        counts["batches_total"] = sum(counts[f"batches_{s}"] for s in schema.BATCH_STATES)
        counts["messages_total"] = sum(counts[f"messages_{s}"] for s in schema.MESSAGE_STATUSES)
        return counts

    @staticmethod
    def _require_batch(conn: Connection, campaign_id: str, batch_index: int) -> None:
        exists = conn.execute(
            sa.select(_b.batch_index).where(_b.campaign_id == campaign_id, _b.batch_index == batch_index)
        ).first()
        if exists is None:
            raise UnknownBatchError(f"no batch {batch_index} in campaign {campaign_id!r}")

    # ------------------------------------------------------------------ receipt side

    def store_receipts(self, receipts: Sequence[Receipt]) -> ReceiptIngestCounts:
        """Store a page of receipts read from the gateway, and apply them to their messages.

        Idempotent: a receipt already stored (same serial and phone) is skipped, so a page
        read twice, or by two processes, is counted once. For each receipt stored *by this
        call* that names a ledger message, the message becomes ``delivered`` (result 0) or
        ``failed`` with ``result_code`` and ``receipt_at`` — unless it is already final.
        Receipts naming no ledger message are kept too (the queue is shared by every
        sender on the account and is read only once). One transaction per call.

        :param receipts: the receipts (a page of any size).
        :returns: what was read, newly stored, matched and unmatched.
        """
        # Dedupe within the page and sort: a stable lock order across concurrent callers on
        # PostgreSQL, where inserting overlapping keys in different orders could deadlock.
        unique = sorted({(r.serial_number, r.user_number): r.result for r in receipts}.items())
        if not unique:
            return ReceiptIngestCounts(read=len(receipts), stored_new=0, matched=0, unmatched=0)
        rows = [(serial, phone, int(result)) for (serial, phone), result in unique]
        store: Callable[[Connection, list[tuple[str, str, int]], datetime], tuple[int, int]]
        if self.engine.dialect.name == "postgresql":
            store = _store_receipts_postgresql
        elif supports_insert_returning(self.engine.dialect):
            store = _store_receipts_returning
        else:
            store = _store_receipts_generic

        def transaction() -> tuple[int, int]:
            now = _utcnow()
            stored = matched = 0
            with write_transaction(self.engine) as conn:
                if conn.dialect.name == "postgresql":
                    # A page names a few hundred messages by primary key: always probe the
                    # index. With stale statistics (a large plan written since the last
                    # ANALYZE) the planner would hash-join a sequential scan of every message
                    # instead, once per page (measured: 50 ms a page at 100k rows). One
                    # round trip: without parameters psycopg sends both in one simple query.
                    conn.exec_driver_sql(_PG_FORCE_INDEX_JOINS)
                for start in range(0, len(rows), RECEIPT_CHUNK_ROWS):
                    s, m = store(conn, rows[start : start + RECEIPT_CHUNK_ROWS], now)
                    stored += s
                    matched += m
            return stored, matched

        stored, matched = _retry_transient(transaction)
        counts = ReceiptIngestCounts(
            read=len(receipts), stored_new=stored, matched=matched, unmatched=stored - matched
        )
        log.debug("ledger: receipts stored: %s", counts)
        return counts

    # ------------------------------------------------------------------ reports

    def delivery_report(
        self,
        campaign_id: str,
        *,
        pending_timeout: timedelta | None = None,
        now: datetime | None = None,
    ) -> DeliveryReport:
        """Counts of the campaign's messages by outcome.

        :param campaign_id: the campaign.
        :param pending_timeout: count as ``pending_past_timeout`` the messages sent longer
            ago than this with no receipt yet (0 when ``None``).
        :param now: the reference time for the timeout (default: now, UTC).
        """
        now = now or _utcnow()
        overdue: sa.ColumnElement[Any]
        if pending_timeout is not None:
            cutoff = now - pending_timeout
            overdue = sa.func.sum(
                sa.case((views.message_sent_at < sa.literal(cutoff, schema.UTCDateTime), 1), else_=0)
            )
        else:
            overdue = sa.literal(0)
        by_status: dict[str, int] = {}
        past_timeout = 0
        with self.engine.connect() as conn:
            for status, n, late in conn.execute(
                sa.select(views.message_status, sa.func.count(), overdue)
                .select_from(views.messages_with_batches)
                .where(_m.campaign_id == campaign_id)
                .group_by(views.message_status)
            ):
                by_status[status] = int(n)
                if status == "sent":
                    past_timeout = int(late or 0)
            failed_by_code = {
                (-1 if code is None else int(code)): int(n)
                for code, n in conn.execute(
                    sa.select(_m.result_code, sa.func.count())
                    .where(_m.campaign_id == campaign_id, _m.status == "failed")
                    .group_by(_m.result_code)
                )
            }
        total = sum(by_status.values())
        not_sent = by_status.get("planned", 0)
        return DeliveryReport(
            campaign_id=campaign_id,
            total=total,
            sent=total - not_sent,
            delivered=by_status.get("delivered", 0),
            failed=by_status.get("failed", 0),
            failed_by_code=dict(sorted(failed_by_code.items())),
            pending=by_status.get("sent", 0),
            pending_past_timeout=past_timeout,
            not_sent=not_sent,
            pending_timeout=pending_timeout,
        )


_MESSAGE_PLAN_COLUMNS = ("serial_number", "phone", "campaign_id", "batch_index", "position", "status")
_MESSAGE_PLAN_TYPES: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("serial_number", sa.String()),
    ("phone", sa.String()),
    ("campaign_id", sa.String()),
    ("batch_index", sa.Integer()),
    ("position", sa.Integer()),
    ("status", sa.String()),
]


def _message_writer(conn: Connection) -> Callable[[list[tuple[str, str, str, int, int, str]]], None]:
    """A function inserting planned message rows (tuples in :data:`_MESSAGE_PLAN_COLUMNS` order).

    On SQLite the rows go straight to the driver's ``executemany``: building SQLAlchemy
    parameter dicts cost more than SQLite's own insert work (measured: ~60 % of the time
    of a million-row plan). The columns left out (result_code, sent_at, receipt_at) are
    NULL, so no type processing is skipped. PostgreSQL gets the rows as arrays (below);
    elsewhere SQLAlchemy's batched "insertmanyvalues" executemany is used.
    """
    if conn.dialect.name == "sqlite":
        sql = (
            f"INSERT INTO {schema.messages.name} ({', '.join(_MESSAGE_PLAN_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _MESSAGE_PLAN_COLUMNS)})"
        )

        def write_sqlite(rows: list[tuple[str, str, str, int, int, str]]) -> None:
            conn.exec_driver_sql(sql, rows)  # type: ignore[arg-type]

        return write_sqlite
    if conn.dialect.name == "postgresql":
        # INSERT ... SELECT FROM unnest(arrays): one statement per chunk with six array
        # parameters; measured ~3x the rate of multi-row VALUES ("insertmanyvalues").
        def write_postgresql(rows: list[tuple[str, str, str, int, int, str]]) -> None:
            page = _page_source(conn, _MESSAGE_PLAN_TYPES, rows)
            conn.execute(
                schema.messages.insert().from_select(
                    list(_MESSAGE_PLAN_COLUMNS), sa.select(*(page.c[name] for name in _MESSAGE_PLAN_COLUMNS))
                )
            )

        return write_postgresql
    insert = schema.messages.insert()

    def write_core(rows: list[tuple[str, str, str, int, int, str]]) -> None:
        conn.execute(insert, [dict(zip(_MESSAGE_PLAN_COLUMNS, row, strict=True)) for row in rows])

    return write_core


def _not_final() -> sa.ColumnElement[bool]:
    # Plain comparisons rather than NOT IN: an expanding IN parameter cannot be used with executemany.
    return sa.and_(*(_m.status != status for status in schema.FINAL_MESSAGE_STATUSES))


def _campaign_row(campaign: CampaignRecord, now: datetime) -> dict[str, Any]:
    return {
        "campaign_id": campaign.campaign_id,
        "dag_id": campaign.dag_id,
        "run_id": campaign.run_id,
        "task_id": campaign.task_id,
        "map_index": campaign.map_index,
        "template_id": campaign.template_id,
        "status": campaign.status,
        "planned": campaign.planned,
        "invalid": campaign.invalid,
        "duplicate": campaign.duplicate,
        "batches": campaign.batches,
        "segments": campaign.segments,
        "source_fingerprint": campaign.source_fingerprint,
        "created_at": campaign.created_at or now,
        "updated_at": campaign.updated_at or now,
        "error": campaign.error,
    }


def _page_source(
    conn: Connection, columns: Sequence[tuple[str, sa.types.TypeEngine[Any]]], rows: Sequence[tuple[Any, ...]]
) -> Any:
    """``rows`` as a table-valued expression with the named ``columns``.

    One bound parameter per column (PostgreSQL arrays through ``unnest``) or one in all
    (a JSON array through SQLite's ``json_each``) instead of one per value: the statement
    stays small, compiles once, and SQLite's limit on bound parameters never applies.
    """
    if conn.dialect.name == "postgresql":
        # One JSON text parameter: psycopg adapts a JSON string far faster than it dumps
        # arrays element by element, and any value (a foreign sender's odd serial) is safe.
        names = [name for name, _ in columns]
        payload = json.dumps([dict(zip(names, row, strict=True)) for row in rows])
        return (
            sa.func.json_to_recordset(
                sa.cast(sa.bindparam("page_json", payload, type_=sa.Text), postgresql.JSON)
            )
            .table_valued(*(sa.column(name, type_) for name, type_ in columns))
            .render_derived(name="page", with_types=True)
        )
    each = sa.func.json_each(sa.bindparam("page_json", json.dumps(rows), type_=sa.String)).table_valued(
        "value"
    )
    return (
        sa.select(
            *(
                sa.type_coerce(sa.func.json_extract(each.c.value, f"$[{i}]"), type_).label(name)
                for i, (name, type_) in enumerate(columns)
            )
        )
        .select_from(each)
        .subquery("page")
    )


_RECEIPT_COLUMNS: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("serial_number", sa.String()),
    ("phone", sa.String()),
    ("result", sa.Integer()),
]
_STORED_COLUMNS = [*_RECEIPT_COLUMNS, ("matched", sa.Boolean())]


def _store_receipts_returning(
    conn: Connection, rows: list[tuple[str, str, int]], now: datetime
) -> tuple[int, int]:
    """SQLite: two set-based statements, race-safe without extra locks (PostgreSQL has one, below).

    1. Update the messages the receipts name, where not yet final, RETURNING their keys:
       those are "matched". On PostgreSQL a concurrent caller with the same receipt waits
       on the row lock, then re-checks the status, sees it final and skips it.
    2. Insert-ignore the raw receipts with their matched flag; the rowcount is what this
       call stored new (a receipt stored concurrently by another caller is skipped).

    A message whose receipt is new is never final (receipts are what make it final), so
    every message updated in (1) gets its receipt inserted by (2) in the same transaction.
    """
    page = _page_source(conn, _RECEIPT_COLUMNS, rows)
    updated = conn.execute(
        sa.update(schema.messages)
        .where(
            _m.serial_number == page.c.serial_number,
            _m.phone == page.c.phone,
            _not_final(),
        )
        .values(
            status=sa.case((page.c.result == 0, "delivered"), else_="failed"),
            result_code=page.c.result,
            receipt_at=now,
        )
        .returning(_m.serial_number, _m.phone)
    ).all()
    matched_keys = {(row.serial_number, row.phone) for row in updated}
    stored_rows = [(serial, phone, result, (serial, phone) in matched_keys) for serial, phone, result in rows]
    stored = _page_source(conn, _STORED_COLUMNS, stored_rows)
    source = sa.select(
        stored.c.serial_number,
        stored.c.phone,
        stored.c.result,
        sa.literal(now, schema.UTCDateTime),
        stored.c.matched,
    )
    if conn.dialect.name == "sqlite":
        # SQLite cannot parse INSERT ... SELECT ... ON CONFLICT without a WHERE in the SELECT.
        source = source.where(sa.true())
    # RETURNING, not rowcount: psycopg 3 (SQLAlchemy 2.1's default PostgreSQL driver, and
    # what Airflow's Postgres connections use) reports -1 for INSERT ... ON CONFLICT.
    inserted = conn.execute(
        insert_ignore(schema.receipts, conn.dialect)
        .from_select(["serial_number", "phone", "result", "received_at", "matched"], source)
        .returning(_r.serial_number)
    ).all()
    return len(inserted), len(matched_keys)


# Two SETs in one string: sent as one simple query (no parameters), so one round trip.
_PG_FORCE_INDEX_JOINS = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"
_PG_FINAL_STATUSES = ", ".join(f"'{status}'" for status in schema.FINAL_MESSAGE_STATUSES)
# The page is one JSON text parameter ([{"s": serial, "p": phone, "r": result}, ...]).
_PG_STORE_RECEIPTS = f"""
WITH ins AS (
    INSERT INTO {schema.receipts.name} AS r (serial_number, phone, result, received_at, matched)
    SELECT page.s, page.p, page.r, %(now)s, EXISTS (
        SELECT 1 FROM {schema.messages.name} AS m
        WHERE m.serial_number = page.s AND m.phone = page.p AND m.status NOT IN ({_PG_FINAL_STATUSES})
    )
    FROM json_to_recordset(%(page)s::json) AS page(s text, p text, r integer)
    ON CONFLICT DO NOTHING
    RETURNING r.serial_number, r.phone, r.result, r.matched
), upd AS (
    UPDATE {schema.messages.name} AS m
    SET status = CASE WHEN ins.result = 0 THEN 'delivered' ELSE 'failed' END,
        result_code = ins.result,
        receipt_at = %(now)s
    FROM ins
    WHERE ins.matched AND m.serial_number = ins.serial_number AND m.phone = ins.phone
        AND m.status NOT IN ({_PG_FINAL_STATUSES})
)
SELECT count(*), count(*) FILTER (WHERE ins.matched) FROM ins
"""


def _store_receipts_postgresql(
    conn: Connection, rows: list[tuple[str, str, int]], now: datetime
) -> tuple[int, int]:
    """PostgreSQL: one statement (one round trip) storing receipts, then updating messages.

    The receipts are inserted first (insert-ignore), each with ``matched`` = its message
    exists and is not final; then exactly the messages of the receipts *this statement
    inserted* are updated. The receipt's primary key is the only point of contention: a
    concurrent caller inserting the same receipt waits for ours to commit, then skips it
    (and so never touches its message). Callers insert in key order (the page is sorted),
    so they cannot deadlock on receipts, and they never update the same message. Every
    stored receipt is counted once, as matched or unmatched, by the caller that stored it.
    """
    payload = json.dumps([{"s": serial, "p": phone, "r": result} for serial, phone, result in rows])
    stored, matched = conn.exec_driver_sql(_PG_STORE_RECEIPTS, {"page": payload, "now": now}).one()
    return int(stored), int(matched)


def _store_receipts_generic(
    conn: Connection, rows: list[tuple[str, str, int]], now: datetime
) -> tuple[int, int]:
    """Backends without INSERT ... RETURNING (MySQL): lock, find the new keys, then write.

    ``SELECT ... FOR UPDATE`` takes next-key locks on MySQL/InnoDB, so a concurrent caller
    with overlapping receipts waits here and then finds them stored.
    """
    keys = [(serial, phone) for serial, phone, _ in rows]
    existing = set(
        conn.execute(
            sa.select(_r.serial_number, _r.phone)
            .where(sa.tuple_(_r.serial_number, _r.phone).in_(keys))
            .with_for_update()
        ).tuples()
    )
    new = [row for row in rows if (row[0], row[1]) not in existing]
    if not new:
        return 0, 0
    with_message = set(
        conn.execute(
            sa.select(_m.serial_number, _m.phone).where(
                sa.tuple_(_m.serial_number, _m.phone).in_([(s, p) for s, p, _ in new])
            )
        ).tuples()
    )
    conn.execute(
        insert_ignore(schema.receipts, conn.dialect),
        [
            {
                "serial_number": s,
                "phone": p,
                "result": res,
                "received_at": now,
                "matched": (s, p) in with_message,
            }
            for s, p, res in new
        ],
    )
    matched = [{"k_serial": s, "k_phone": p, "k_result": res} for s, p, res in new if (s, p) in with_message]
    if matched:
        conn.execute(
            sa.update(schema.messages)
            .where(
                _m.serial_number == sa.bindparam("k_serial"),
                _m.phone == sa.bindparam("k_phone"),
                _not_final(),
            )
            .values(
                status=sa.case(
                    (sa.bindparam("k_result", type_=sa.Integer) == 0, "delivered"), else_="failed"
                ),
                result_code=sa.bindparam("k_result", type_=sa.Integer),
                receipt_at=now,
            ),
            matched,
        )
    return len(new), len(matched)


def _retry_transient(func: Callable[[], _T], attempts: int = 3) -> _T:
    """Run an idempotent transaction again after a deadlock or serialization failure."""
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except sa.exc.OperationalError as exc:
            # psycopg 3 names the SQLSTATE ``sqlstate``; psycopg2 names it ``pgcode``.
            code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
            if attempt == attempts or code not in _RETRYABLE_PGCODES:
                raise
            log.warning("ledger: transaction aborted by the database (%s); retrying", code)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")
