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
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from yxt_provider.ledger import expressions, schema
from yxt_provider.ledger.models import DeliveryReport

__all__ = ["CSV_COLUMNS", "campaign_counts", "delivery_report", "export_campaign_csv"]

CSV_COLUMNS = ("phone", "serial_number", "batch_index", "status", "result_code", "sent_at", "receipt_at")
_CSV_FETCH_ROWS = 5_000

_m = schema.messages.c
_b = schema.batches.c


class _HasEngine(Protocol):
    """Anything with the ledger's engine, e.g. a :class:`~yxt_provider.ledger.Ledger`."""

    @property
    def engine(self) -> Engine: ...


Bind = Engine | Connection


@contextlib.contextmanager
def _reading(bind: Bind) -> Iterator[Connection]:
    """A connection to read from: a new one from an engine, or the caller's own."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


def _by_status(campaign_id: str, *extra: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """The campaign's messages counted by effective status (plus ``extra`` aggregates)."""
    return (
        sa.select(expressions.message_status, sa.func.count(), *extra)
        .select_from(expressions.messages_with_batches)
        .where(_m.campaign_id == campaign_id)
        .group_by(expressions.message_status)
    )


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
    overdue: sa.ColumnElement[Any] = sa.literal(0)
    if pending_timeout is not None:
        cutoff = (now or datetime.now(timezone.utc)) - pending_timeout
        overdue = sa.func.sum(
            sa.case((expressions.message_sent_at < sa.literal(cutoff, schema.UTCDateTime), 1), else_=0)
        )
    by_status: dict[str, int] = {}
    past_timeout = 0
    with _reading(bind) as conn:
        for status, n, late in conn.execute(_by_status(campaign_id, overdue)):
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


def campaign_counts(bind: Bind, campaign_id: str) -> dict[str, int]:
    """Batches by state and messages by status, every state present (zeros included).

    Keys: ``batches_<state>`` for each batch state, ``batches_total``,
    ``messages_<status>`` for each message status, ``messages_total``.

    :param bind: the ledger's engine, or a connection to read on.
    :param campaign_id: the campaign.
    """
    counts = {f"batches_{state}": 0 for state in schema.BATCH_STATES}
    counts.update({f"messages_{status}": 0 for status in schema.MESSAGE_STATUSES})
    with _reading(bind) as conn:
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
    ledger: _HasEngine | Bind, campaign_id: str, path_or_file: str | os.PathLike[str] | TextIO
) -> int:
    """Write one CSV row per recipient of the campaign, streaming from the database.

    Columns: :data:`CSV_COLUMNS`; timestamps in ISO 8601 UTC; rows ordered by batch and
    planned position. Memory stays bounded whatever the campaign size.

    :param ledger: the :class:`~yxt_provider.ledger.Ledger`, its engine, or a connection.
    :param campaign_id: the campaign.
    :param path_or_file: a path (created or overwritten, UTF-8) or an open text file.
    :returns: the number of recipient rows written.
    """
    bind = ledger if isinstance(ledger, (Engine, Connection)) else ledger.engine
    query = (
        sa.select(
            _m.phone, _m.serial_number, _m.batch_index, expressions.message_status, _m.result_code,
            expressions.message_sent_at, _m.receipt_at,
        )
        .select_from(expressions.messages_with_batches)
        .where(_m.campaign_id == campaign_id)
        .order_by(_m.batch_index, _m.position)
    )  # fmt: skip
    written = 0
    with _open_text(path_or_file) as out, _reading(bind) as conn:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        # stream_results: a server-side cursor on PostgreSQL (and MySQL), so a million rows are never all in memory.
        result = conn.execution_options(stream_results=True, yield_per=_CSV_FETCH_ROWS).execute(query)
        for partition in result.partitions():
            writer.writerows(
                (phone, serial, batch, status, "" if code is None else code, _iso(sent), _iso(receipt))
                for phone, serial, batch, status, code, sent, receipt in partition
            )
            written += len(partition)
    return written


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
