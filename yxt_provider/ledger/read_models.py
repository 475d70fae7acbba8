"""What readers see of the ledger: the delivery report, campaign counts and the CSV export.

Read-only queries over an ``Engine`` (or a ``Connection``, to read inside the caller's own
transaction), built on the status expressions of :mod:`yxt_provider.ledger.expressions`, so a
report, the counts and the CSV never disagree about a message. The report and the counts
never contain a phone number. The CSV export does contain them, in full: it is the user's
own data file, written where the user asks, and its rows are never logged.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from yxt_provider.client.errors import ERRORS_BY_CODE
from yxt_provider.ledger import expressions, schema
from yxt_provider.ledger.engine import Bind, reading
from yxt_provider.ledger.models import NOT_PLANNED, DeliveryReport, describe_result

__all__ = [
    "CSV_COLUMNS",
    "GROUP_CSV_COLUMNS",
    "campaign_counts",
    "delivery_report",
    "delivery_reports",
    "describe_not_sent",
    "export_campaign_csv",
    "export_group_csv",
    "outcome_of",
]

#: The columns of the per-recipient CSV export, in order.
CSV_COLUMNS = (
    "row",
    "phone",
    "outcome",
    "status",
    "result_code",
    "serial_number",
    "batch_index",
    "sent_at",
    "receipt_at",
    "replies",
)
#: The columns of a campaign group's CSV export: the shard's campaign id, then :data:`CSV_COLUMNS`.
GROUP_CSV_COLUMNS = ("campaign_id", *CSV_COLUMNS)
_OUTCOME_WORDS = {
    "planned": "not sent",
    "sent": "pending (no receipt yet)",
    "delivered": "delivered",
    "refused": "refused at send by the gateway (failList)",
    "invalid": "invalid: not a mainland mobile number",
    "opted_out": "skipped: opted out",
    "capped": "skipped: over the frequency cap",
}
_CSV_FETCH_ROWS = 5_000

_m = schema.messages.c
_b = schema.batches.c
_c = schema.campaigns.c
_x = schema.excluded_recipients.c
_rp = schema.replies.c


class _HasEngine(Protocol):
    """Anything with the ledger's engine, e.g. a :class:`~yxt_provider.ledger.Ledger`."""

    @property
    def engine(self) -> Engine: ...


def _by_status(campaign_id: str, *extra: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """The campaign's messages counted by effective status (plus ``extra`` aggregates)."""
    return (
        sa.select(expressions.message_status, sa.func.count(), *extra)
        .select_from(expressions.messages_with_batches)
        .where(_m.campaign_id == campaign_id)
        .group_by(expressions.message_status)
    )


# Campaign ids bound per statement at most: far below every backend's parameter limit
# (SQLite's 32,766, PostgreSQL's 65,535), so a group of thousands of shards stays a few statements.
_IDS_PER_STATEMENT = 500


def delivery_report(
    bind: Bind,
    campaign_id: str,
    *,
    pending_timeout: timedelta | None = None,
    now: datetime | None = None,
) -> DeliveryReport:
    """Counts of the campaign's messages by outcome.

    :param bind: the ledger's engine, or a connection to read on.
    :param campaign_id: the campaign.
    :param pending_timeout: count as ``pending_past_timeout`` the messages sent longer
        ago than this with no receipt yet (0 when ``None``).
    :param now: the reference time for the timeout (default: now, UTC).
    """
    return delivery_reports(bind, [campaign_id], pending_timeout=pending_timeout, now=now)[campaign_id]


def delivery_reports(
    bind: Bind,
    campaign_ids: Sequence[str],
    *,
    pending_timeout: timedelta | None = None,
    now: datetime | None = None,
) -> dict[str, DeliveryReport]:
    """The delivery report of each campaign, read together: the same four statements for one campaign or a thousand.

    Every statement groups by campaign over ``campaign_id IN (...)``, all in one read
    transaction, and ``pending_past_timeout`` uses one cutoff for all, so the reports of a
    group's shards describe the same moment and can be combined
    (:meth:`~yxt_provider.ledger.models.DeliveryReport.combine`). A campaign not in the
    ledger gets a report with status ``not planned`` and zero counts.

    :param bind: the ledger's engine, or a connection to read on.
    :param campaign_ids: the campaigns (repeats are read once).
    :param pending_timeout: count as ``pending_past_timeout`` the messages sent longer
        ago than this with no receipt yet (0 when ``None``).
    :param now: the reference time for the timeout (default: now, UTC).
    :returns: campaign id → report, in the order of ``campaign_ids``.
    """
    ids = list(dict.fromkeys(campaign_ids))
    overdue: sa.ColumnElement[Any] = sa.literal(0)
    if pending_timeout is not None:
        cutoff = (now or datetime.now(timezone.utc)) - pending_timeout
        overdue = sa.func.sum(
            sa.case((expressions.message_sent_at < sa.literal(cutoff, schema.UTCDateTime), 1), else_=0)
        )
    by_status: dict[str, dict[str, int]] = {cid: {} for cid in ids}
    past_timeout: dict[str, int] = dict.fromkeys(ids, 0)
    failed_by_code: dict[str, dict[int, int]] = {cid: {} for cid in ids}
    reasons: dict[str, dict[str, int]] = {cid: {} for cid in ids}
    replies: dict[str, int] = dict.fromkeys(ids, 0)
    campaigns: dict[str, Any] = {}
    with reading(bind) as conn:
        for chunk in _chunks(ids):
            # One pass over the messages: by status and result code (failed messages by code
            # come out of the same groups): about twice as fast as a second statement on PostgreSQL.
            for cid, status, code, n, late in conn.execute(
                sa.select(
                    _m.campaign_id, expressions.message_status, _m.result_code, sa.func.count(), overdue
                )
                .select_from(expressions.messages_with_batches)
                .where(_m.campaign_id.in_(chunk))
                .group_by(_m.campaign_id, expressions.message_status, _m.result_code)
            ):
                by_status[cid][status] = by_status[cid].get(status, 0) + int(n)
                if status == "sent":
                    past_timeout[cid] += int(late or 0)
                elif status == "failed":
                    key = -1 if code is None else int(code)
                    failed_by_code[cid][key] = failed_by_code[cid].get(key, 0) + int(n)
            for row in conn.execute(
                sa.select(
                    _c.campaign_id, _c.status, _c.error, _c.invalid, _c.duplicate, _c.opted_out, _c.capped
                ).where(_c.campaign_id.in_(chunk))
            ):
                campaigns[row.campaign_id] = row
            for cid, attempts, code, error, size in conn.execute(
                sa.select(_b.campaign_id, _b.attempts, _b.error_code, _b.error, _b.size).where(
                    _b.campaign_id.in_(chunk), _b.state.not_in(("sent", "skipped"))
                )
            ):
                reason = describe_not_sent(attempts, code, error)
                reasons[cid][reason] = reasons[cid].get(reason, 0) + int(size)
            for cid, n in conn.execute(
                sa.select(_rp.campaign_id, sa.func.count())
                .where(_rp.campaign_id.in_(chunk))
                .group_by(_rp.campaign_id)
            ):
                replies[cid] = int(n)
    return {
        cid: _report_of(
            cid, by_status[cid], past_timeout[cid], failed_by_code[cid], campaigns.get(cid), reasons[cid],
            replies[cid], pending_timeout,
        )
        for cid in ids
    }  # fmt: skip


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        yield ids[start : start + _IDS_PER_STATEMENT]


def _report_of(
    campaign_id: str,
    by_status: dict[str, int],
    past_timeout: int,
    failed_by_code: dict[int, int],
    campaign: Any,
    reasons: dict[str, int],
    replies: int,
    pending_timeout: timedelta | None,
) -> DeliveryReport:
    total = sum(by_status.values())
    not_sent = by_status.get("planned", 0)
    refused = by_status.get("refused", 0)
    return DeliveryReport(
        campaign_id=campaign_id,
        total=total,
        sent=total - not_sent - refused,
        refused=refused,
        delivered=by_status.get("delivered", 0),
        failed=by_status.get("failed", 0),
        failed_by_code=dict(sorted(failed_by_code.items())),
        pending=by_status.get("sent", 0),
        pending_past_timeout=past_timeout,
        not_sent=not_sent,
        pending_timeout=pending_timeout,
        invalid=0 if campaign is None else int(campaign.invalid),
        duplicate=0 if campaign is None else int(campaign.duplicate),
        opted_out=0 if campaign is None else int(campaign.opted_out),
        capped=0 if campaign is None else int(campaign.capped),
        status=NOT_PLANNED if campaign is None else campaign.status,
        error=None if campaign is None else campaign.error,
        not_sent_reasons=dict(sorted(reasons.items(), key=lambda item: -item[1])),
        replies=replies,
    )


def describe_not_sent(attempts: int, code: int | None, error: str | None) -> str:
    """Why a batch is not sent, in the words of the report and the CSV export.

    :param attempts: send attempts started.
    :param code: the gateway's result code of the last attempt, if it answered with one.
    :param error: the last attempt's error text.
    """
    if not attempts:
        return "not attempted yet"
    if code is not None:
        error_class = ERRORS_BY_CODE.get(code)
        return f"refused: code {code}" + (f" ({error_class.meaning})" if error_class else "")
    if error:
        return "no answer from the gateway (a retry re-sends under the same serial)"
    return "interrupted mid-request (a retry re-sends under the same serial)"


def campaign_counts(bind: Bind, campaign_id: str) -> dict[str, int]:
    """Batches by state and messages by status, every state present (zeros included).

    Keys: ``batches_<state>`` for each batch state, ``batches_total``,
    ``messages_<status>`` for each message status, ``messages_total``.

    :param bind: the ledger's engine, or a connection to read on.
    :param campaign_id: the campaign.
    """
    counts = {f"batches_{state}": 0 for state in schema.BATCH_STATES}
    counts.update({f"messages_{status}": 0 for status in schema.MESSAGE_STATUSES})
    with reading(bind) as conn:
        for state, n in conn.execute(
            sa.select(_b.state, sa.func.count()).where(_b.campaign_id == campaign_id).group_by(_b.state)
        ):
            counts[f"batches_{state}"] = int(n)
        for status, n in conn.execute(_by_status(campaign_id)):
            counts[f"messages_{status}"] = int(n)
    counts["batches_total"] = sum(counts[f"batches_{s}"] for s in schema.BATCH_STATES)
    counts["messages_total"] = sum(counts[f"messages_{s}"] for s in schema.MESSAGE_STATUSES)
    return counts


def export_campaign_csv(
    ledger: _HasEngine | Bind,
    campaign_id: str,
    path_or_file: str | os.PathLike[str] | TextIO,
    meanings: Mapping[int, str] | None = None,
) -> int:
    """Write one CSV row per input row of the campaign's recipient source, streaming from the database.

    Planned recipients and the rows set aside before planning (invalid, duplicate) alike,
    in source order, each with its ``outcome`` in the report's words: ``delivered``,
    ``failed (code 2: 空号)``, ``pending (no receipt yet)``, ``not sent``, ``invalid``,
    ``duplicate of row N``. Columns: :data:`CSV_COLUMNS`; timestamps in ISO 8601 UTC.
    Campaigns planned before schema version 2 have no row numbers: their messages come in
    planned order, after any numbered rows. Memory stays bounded whatever the campaign size.

    :param ledger: the :class:`~yxt_provider.ledger.Ledger`, its engine, or a connection.
    :param campaign_id: the campaign.
    :param path_or_file: a path (created or overwritten, UTF-8) or an open text file.
    :param meanings: what failure result codes mean, for the ``outcome`` column.
    :returns: the number of rows written (the header aside).
    """
    return _export_csv(ledger, [campaign_id], path_or_file, meanings, grouped=False)


def export_group_csv(
    ledger: _HasEngine | Bind,
    campaign_ids: Sequence[str],
    path_or_file: str | os.PathLike[str] | TextIO,
    meanings: Mapping[int, str] | None = None,
) -> int:
    """Write a campaign group's CSV: every shard's rows as :func:`export_campaign_csv` writes them, shard after shard.

    Columns: :data:`GROUP_CSV_COLUMNS` (the shard's ``campaign_id`` first, since row numbers
    repeat across shards). One read transaction, streamed, memory bounded. Shards without a
    campaign in the ledger have no rows.

    :param ledger: the :class:`~yxt_provider.ledger.Ledger`, its engine, or a connection.
    :param campaign_ids: the shards, in the order to write them.
    :param path_or_file: a path (created or overwritten, UTF-8) or an open text file.
    :param meanings: what failure result codes mean, for the ``outcome`` column.
    :returns: the number of rows written (the header aside).
    """
    return _export_csv(ledger, list(dict.fromkeys(campaign_ids)), path_or_file, meanings, grouped=True)


def _export_csv(
    ledger: _HasEngine | Bind,
    campaign_ids: Sequence[str],
    path_or_file: str | os.PathLike[str] | TextIO,
    meanings: Mapping[int, str] | None,
    *,
    grouped: bool,
) -> int:
    """The campaigns' rows in one read transaction, streamed; a group's rows start with their campaign id."""
    bind = ledger if isinstance(ledger, (Engine, Connection)) else ledger.engine
    written = 0
    with _open_text(path_or_file) as out, reading(bind) as conn:
        writer = csv.writer(out)
        writer.writerow(GROUP_CSV_COLUMNS if grouped else CSV_COLUMNS)
        for campaign_id in campaign_ids:
            # stream_results: a server-side cursor on PostgreSQL (and MySQL), so a million rows
            # are never all in memory.
            result = conn.execution_options(stream_results=True, yield_per=_CSV_FETCH_ROWS).execute(
                _every_row(campaign_id)
            )
            prefix = (campaign_id,) if grouped else ()
            for partition in result.partitions():
                writer.writerows((*prefix, *_csv_row(row, meanings)) for row in partition)
                written += len(partition)
    return written


def _every_row(campaign_id: str) -> sa.Select[Any]:
    """Messages and excluded rows of one campaign, as one result in source order."""
    no_int = sa.cast(sa.null(), sa.Integer)
    no_text = sa.cast(sa.null(), sa.String)
    no_time = sa.cast(sa.null(), schema.UTCDateTime)
    replies = (
        sa.select(_rp.user_number, sa.func.count().label("n"))
        .where(_rp.campaign_id == campaign_id)
        .group_by(_rp.user_number)
        .subquery("replies_by_number")
    )
    planned = (
        sa.select(
            _m.input_row.label("row"), _m.phone.label("value"), expressions.message_status,
            _m.result_code, _m.serial_number, _m.batch_index, _m.position,
            expressions.message_sent_at, _m.receipt_at, no_int.label("duplicate_of_row"),
            sa.func.coalesce(replies.c.n, 0).label("replies"),
        )
        .select_from(expressions.messages_with_batches.outerjoin(replies, replies.c.user_number == _m.phone))
        .where(_m.campaign_id == campaign_id)
    )  # fmt: skip
    excluded = sa.select(
        _x.input_row, _x.value, _x.reason, no_int, no_text, no_int, no_int, no_time, no_time, _x.duplicate_of_row,
        sa.cast(sa.literal(0), sa.Integer),
    ).where(_x.campaign_id == campaign_id)  # fmt: skip
    every = sa.union_all(planned, excluded).subquery()
    # Not "NULLS LAST" (MySQL lacks it): rows without a number sort after the numbered ones.
    return sa.select(every).order_by(
        every.c.row.is_(None), every.c.row, every.c.batch_index, every.c.position
    )


def _csv_row(row: Any, meanings: Mapping[int, str] | None) -> tuple[Any, ...]:
    return (
        "" if row.row is None else row.row,
        row.value,
        outcome_of(row.status, row.result_code, row.duplicate_of_row, meanings),
        row.status,
        "" if row.result_code is None else row.result_code,
        row.serial_number or "",
        "" if row.batch_index is None else row.batch_index,
        _iso(row.sent_at),
        _iso(row.receipt_at),
        row.replies,
    )


def outcome_of(
    status: str,
    result_code: int | None,
    duplicate_of_row: int | None,
    meanings: Mapping[int, str] | None = None,
) -> str:
    """One recipient's outcome in the delivery report's words.

    :param status: the message's effective status, or the reason its row was set aside.
    :param result_code: the receipt's result code, for failed messages.
    :param duplicate_of_row: for a duplicate row, the row its number first appeared in.
    :param meanings: what failure result codes mean.
    """
    if status == "failed":
        return describe_result(-1 if result_code is None else result_code, meanings)
    if status == "duplicate":
        return f"duplicate of row {duplicate_of_row}" if duplicate_of_row is not None else "duplicate"
    return _OUTCOME_WORDS.get(status, status)


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


@contextlib.contextmanager
def _open_text(path_or_file: str | os.PathLike[str] | TextIO) -> Iterator[TextIO]:
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "w", encoding="utf-8", newline="") as handle:
            yield handle
    elif isinstance(path_or_file, io.TextIOBase) or hasattr(path_or_file, "write"):
        yield path_or_file
    else:  # pragma: no cover - guarded by the type hint
        raise TypeError("path_or_file must be a path or a text file")
