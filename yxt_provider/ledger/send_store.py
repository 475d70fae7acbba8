"""The send side of the ledger: campaigns, their batches and messages (plans and send progress).

Each function is the body of the :class:`~yxt_provider.ledger.store.Ledger` method of the
same name, which documents its contract; the first argument is the ledger's engine. Each
is one short transaction, so a process killed at any instant leaves the ledger at a state
some earlier call committed. Backend differences come from :mod:`yxt_provider.ledger.dialects`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from yxt_provider.ledger import dialects, expressions, opt_out_store, schema
from yxt_provider.ledger.engine import write_transaction
from yxt_provider.ledger.errors import LedgerError, UnknownBatchError, UnknownCampaignError
from yxt_provider.ledger.models import (
    AttemptStart,
    BatchRecord,
    CampaignRecord,
    ExcludedRecipient,
    PlannedBatch,
)

__all__ = [
    "PLAN_CHUNK_ROWS",
    "batch_numbers",
    "create_plan",
    "get_batch",
    "get_campaign",
    "iter_batches",
    "ledger_key",
    "mark_attempted",
    "mark_batch_error",
    "mark_sent",
    "set_campaign_status",
]

log = logging.getLogger(__name__)

#: Rows per executemany when writing a plan: large enough to amortise the per-call cost, small enough
#: that a million-recipient plan never holds more than this many rows.
PLAN_CHUNK_ROWS = 10_000

_c = schema.campaigns.c
_b = schema.batches.c
_m = schema.messages.c


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _batch_key(campaign_id: str, batch_index: int) -> sa.ColumnElement[bool]:
    return sa.and_(_b.campaign_id == campaign_id, _b.batch_index == batch_index)


def _batch_exists(conn: Connection, campaign_id: str, batch_index: int) -> bool:
    return (
        conn.execute(sa.select(_b.batch_index).where(_batch_key(campaign_id, batch_index))).first()
        is not None
    )


def _unknown_batch(campaign_id: str, batch_index: int) -> UnknownBatchError:
    return UnknownBatchError(f"no batch {batch_index} in campaign {campaign_id!r}")


def get_campaign(engine: Engine, campaign_id: str) -> CampaignRecord | None:
    """The campaign row, or ``None``."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(schema.campaigns).where(_c.campaign_id == campaign_id)).one_or_none()
    return None if row is None else CampaignRecord(**row._asdict())


def ledger_key(engine: Engine) -> str:
    """The ledger's random identity (made by the migration to schema version 2)."""
    with engine.connect() as conn:
        key = conn.execute(
            sa.select(schema.ledger_identity.c.ledger_key).where(schema.ledger_identity.c.id == 1)
        ).scalar_one_or_none()
    if not key:
        raise LedgerError("the ledger has no identity row; run Ledger.ensure_schema() (a migration makes it)")
    return str(key)


def create_plan(
    engine: Engine,
    campaign: CampaignRecord,
    batches: Iterable[PlannedBatch],
    excluded: Iterable[ExcludedRecipient] = (),
) -> bool:
    """Write the campaign, then its batches and messages in chunks, and its excluded rows, in one transaction."""
    if campaign.status not in schema.CAMPAIGN_STATUSES:
        raise ValueError(f"unknown campaign status {campaign.status!r}")
    with write_transaction(engine) as conn:
        # The campaign row goes first: a concurrent writer of the same id blocks here
        # until we commit, then inserts nothing and returns False.
        if not dialects.insert_if_absent(conn, schema.campaigns, _campaign_row(campaign, _utcnow())):
            return False
        n_batches, n_messages = _write_batches(conn, campaign.campaign_id, batches)
        _write_excluded(conn, campaign.campaign_id, excluded)
        if (n_batches, n_messages) != (campaign.batches, campaign.planned):
            conn.execute(
                sa.update(schema.campaigns)
                .where(_c.campaign_id == campaign.campaign_id)
                .values(batches=n_batches, planned=n_messages)
            )
    dialects.refresh_statistics(engine)
    log.info(
        "ledger: plan for campaign %s written: %d batches, %d messages",
        campaign.campaign_id,
        n_batches,
        n_messages,
    )
    return True


def _write_excluded(conn: Connection, campaign_id: str, excluded: Iterable[ExcludedRecipient]) -> None:
    chunk: list[dict[str, Any]] = []
    for row in excluded:
        if row.reason not in schema.EXCLUSION_REASONS:
            raise ValueError(f"unknown exclusion reason {row.reason!r}")
        chunk.append(
            {
                "campaign_id": campaign_id,
                "input_row": row.row,
                "reason": row.reason,
                "value": row.value,
                "duplicate_of_row": row.duplicate_of_row,
            }
        )
        if len(chunk) >= PLAN_CHUNK_ROWS:
            conn.execute(schema.excluded_recipients.insert(), chunk)
            chunk.clear()
    if chunk:
        conn.execute(schema.excluded_recipients.insert(), chunk)


def _write_batches(conn: Connection, campaign_id: str, batches: Iterable[PlannedBatch]) -> tuple[int, int]:
    batch_rows: list[dict[str, Any]] = []
    message_rows: list[dialects.MessageRow] = []
    n_batches = n_messages = 0
    insert_messages = dialects.message_writer(conn)

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
        batch_rows.append(_batch_row(batch, len(numbers)))
        serial, index = batch.serial_number, batch.batch_index
        rows: Sequence[int | None] = batch.rows if batch.rows is not None else [None] * len(numbers)
        message_rows.extend(
            (serial, phone, campaign_id, index, position, "planned", row)
            for position, (phone, row) in enumerate(zip(numbers, rows, strict=True))
        )
        n_batches += 1
        n_messages += len(numbers)
        if len(message_rows) >= PLAN_CHUNK_ROWS:
            flush()
    flush()
    return n_batches, n_messages


def iter_batches(engine: Engine, campaign_id: str) -> list[BatchRecord]:
    """Every batch of the campaign, ordered by ``batch_index``."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(schema.batches).where(_b.campaign_id == campaign_id).order_by(_b.batch_index)
        ).all()
    return [BatchRecord(**row._asdict()) for row in rows]


def get_batch(engine: Engine, campaign_id: str, batch_index: int) -> BatchRecord | None:
    """One batch, or ``None``."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(schema.batches).where(_batch_key(campaign_id, batch_index))
        ).one_or_none()
    return None if row is None else BatchRecord(**row._asdict())


def batch_numbers(engine: Engine, campaign_id: str, batch_index: int) -> list[str]:
    """The batch's numbers in planned order (an index-only read on the send path)."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(_m.phone)
                .where(_m.campaign_id == campaign_id, _m.batch_index == batch_index)
                .order_by(_m.position)
            ).scalars()
        )


# The send path's statements, built once: building them per batch cost more than running them.
_this_batch = sa.and_(_b.campaign_id == sa.bindparam("b_campaign"), _b.batch_index == sa.bindparam("b_index"))
_LOCK_BATCH = sa.select(schema.batches).where(_this_batch).with_for_update(of=schema.batches)
_LOCK_BATCH_AND_FINGERPRINT = (
    sa.select(schema.batches)
    .add_columns(*opt_out_store.LateOptOuts.fingerprint(sa.bindparam("b_since", type_=schema.UTCDateTime)))
    .where(_this_batch)
    .with_for_update(of=schema.batches)
)
_COUNT_ATTEMPT = (
    sa.update(schema.batches)
    .where(_this_batch)
    .values(
        state=sa.case((_b.state.in_(("planned", "failed")), "attempted"), else_=_b.state),
        size=_b.size - sa.bindparam("b_dropped"),
        attempts=_b.attempts + 1,
        attempted_at=sa.bindparam("b_now", type_=schema.UTCDateTime),
        error_code=None,
        error=None,
    )
)

_MARK_SENT = (
    sa.update(schema.batches)
    .where(_this_batch, _b.state != "sent")
    .values(
        state="sent",
        gateway_task_id=sa.bindparam("b_task"),
        duplicate=sa.bindparam("b_duplicate"),
        sent_at=sa.bindparam("b_now", type_=schema.UTCDateTime),
    )
)


def mark_attempted(
    engine: Engine,
    campaign_id: str,
    batch_index: int,
    *,
    drop_opted_out_since: datetime | None = None,
    late_opt_outs: opt_out_store.LateOptOuts | None = None,
) -> AttemptStart:
    """Lock the batch row, read it, then count the attempt; returns the row as read.

    With ``drop_opted_out_since`` (the plan's time, less a margin for clocks), a batch never
    attempted first loses its numbers that joined the opt-out list since then, in the same
    transaction: each becomes an excluded row (``opted_out``), the batch and the campaign
    shrink, and a batch left empty is ``skipped`` instead of attempted. ``late_opt_outs``
    keeps what it found between calls (the ledger passes its own).
    """
    key: dict[str, Any] = {"b_campaign": campaign_id, "b_index": batch_index}
    with write_transaction(engine) as conn:
        if drop_opted_out_since is None:
            before = conn.execute(_LOCK_BATCH, key).one_or_none()
        else:
            # In the same statement: the check costs the send path no extra round trip.
            before = conn.execute(
                _LOCK_BATCH_AND_FINGERPRINT, {**key, "b_since": drop_opted_out_since}
            ).one_or_none()
        if before is None:
            raise _unknown_batch(campaign_id, batch_index)
        row = before._asdict()
        fingerprint = (row.pop("late_opt_outs", 0), row.pop("latest_opt_out", None))
        record = BatchRecord(**row)
        # Only a batch no request carried yet may change: any attempt may have reached the
        # gateway, and a re-send must then carry exactly what that attempt did.
        found = (
            (late_opt_outs or opt_out_store.LateOptOuts()).in_batch(
                conn, (campaign_id, batch_index), drop_opted_out_since, fingerprint
            )
            if drop_opted_out_since is not None and record.attempts == 0
            else []
        )
        dropped = _drop_opted_out(conn, record, found)
        if dropped == record.size and dropped:
            _update_batch_row(conn, campaign_id, batch_index, {"state": "skipped", "size": 0})
            return AttemptStart(record, dropped=dropped, skipped=True)
        conn.execute(_COUNT_ATTEMPT, {**key, "b_dropped": dropped, "b_now": _utcnow()})
    return AttemptStart(record, dropped=dropped)


def _drop_opted_out(conn: Connection, batch: BatchRecord, found: Sequence[tuple[str, int]]) -> int:
    """Take ``found`` (numbers and input rows) out of the batch's plan, each with its reason; returns how many."""
    if not found:
        return 0
    numbers = [phone for phone, _ in found]
    conn.execute(
        sa.delete(schema.messages).where(
            _m.campaign_id == batch.campaign_id, _m.batch_index == batch.batch_index, _m.phone.in_(numbers)
        )
    )
    _write_excluded(
        conn,
        batch.campaign_id,
        (ExcludedRecipient(row, "opted_out", phone) for phone, row in found),
    )
    conn.execute(
        sa.update(schema.campaigns)
        .where(_c.campaign_id == batch.campaign_id)
        .values(planned=_c.planned - len(found), opted_out=_c.opted_out + len(found), updated_at=_utcnow())
    )
    log.info(
        "ledger: campaign %s batch %d: %d numbers opted out since the plan was written; not sending to them",
        batch.campaign_id, batch.batch_index, len(found),
    )  # fmt: skip
    return len(found)


def _update_batch_row(conn: Connection, campaign_id: str, batch_index: int, values: dict[str, Any]) -> None:
    conn.execute(sa.update(schema.batches).where(_batch_key(campaign_id, batch_index)).values(**values))


def mark_sent(
    engine: Engine,
    campaign_id: str,
    batch_index: int,
    *,
    gateway_task_id: str | None,
    duplicate: bool,
    refused: Sequence[str] = (),
) -> None:
    """Set the batch ``sent`` unless it already is (one row: messages follow through the batch).

    Numbers in ``refused`` become ``refused`` messages in the same transaction, so a crash
    never leaves a sent batch whose refused numbers wait for a receipt.
    """
    now = _utcnow()
    values = {"b_campaign": campaign_id, "b_index": batch_index, "b_task": gateway_task_id,
              "b_duplicate": duplicate, "b_now": now}  # fmt: skip
    with write_transaction(engine) as conn:
        # No row changed: the batch does not exist, or it was sent already (kept as it is).
        if conn.execute(_MARK_SENT, values).rowcount == 0:
            if not _batch_exists(conn, campaign_id, batch_index):
                raise _unknown_batch(campaign_id, batch_index)
            return
        if refused:
            # At most a batch's 1000 numbers: one IN list on every backend.
            conn.execute(
                sa.update(schema.messages)
                .where(
                    _m.campaign_id == campaign_id,
                    _m.batch_index == batch_index,
                    _m.phone.in_(list(refused)),
                    expressions.not_final(),
                )
                .values(status="refused", result_code=None, sent_at=now)
            )


def mark_batch_error(
    engine: Engine, campaign_id: str, batch_index: int, *, code: int | None, error: str
) -> None:
    """Record the last attempt's error; the state is unchanged."""
    _update_batch(engine, campaign_id, batch_index, {"error_code": code, "error": error})


def _update_batch(
    engine: Engine,
    campaign_id: str,
    batch_index: int,
    values: dict[str, Any],
    *,
    unless: sa.ColumnElement[bool] | None = None,
) -> None:
    """Update one batch row, left alone when ``unless`` holds for it; raise when there is no such batch."""
    where = _batch_key(campaign_id, batch_index)
    with write_transaction(engine) as conn:
        result = conn.execute(
            sa.update(schema.batches)
            .where(where if unless is None else sa.and_(where, ~unless))
            .values(**values)
        )
        # No row changed: the batch does not exist, or ``unless`` held for it.
        if result.rowcount == 0 and (unless is None or not _batch_exists(conn, campaign_id, batch_index)):
            raise _unknown_batch(campaign_id, batch_index)


def set_campaign_status(engine: Engine, campaign_id: str, status: str, *, error: str | None = None) -> None:
    """Set the campaign's status and error text."""
    if status not in schema.CAMPAIGN_STATUSES:
        raise ValueError(f"unknown campaign status {status!r}; expected one of {schema.CAMPAIGN_STATUSES}")
    with write_transaction(engine) as conn:
        result = conn.execute(
            sa.update(schema.campaigns)
            .where(_c.campaign_id == campaign_id)
            .values(status=status, error=error, updated_at=_utcnow())
        )
        if result.rowcount == 0:
            raise UnknownCampaignError(f"no campaign {campaign_id!r} in the ledger")


def _campaign_row(campaign: CampaignRecord, now: datetime) -> dict[str, Any]:
    # The record's fields are the table's columns.
    return {
        **dataclasses.asdict(campaign),
        "created_at": campaign.created_at or now,
        "updated_at": campaign.updated_at or now,
    }


def _batch_row(batch: PlannedBatch, size: int) -> dict[str, Any]:
    return {
        "campaign_id": batch.campaign_id,
        "batch_index": batch.batch_index,
        "serial_number": batch.serial_number,
        "template_id": batch.template_id,
        "content": batch.content,
        "content_hash": batch.content_hash,
        "size": size,
        "state": "planned",
        "attempts": 0,
        "gateway_task_id": None,
        "duplicate": False,
        "attempted_at": None,
        "sent_at": None,
        "error_code": None,
        "error": None,
    }
