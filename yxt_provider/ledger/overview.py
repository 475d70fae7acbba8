"""What the "SMS campaigns" view shows: a page of campaigns, one campaign in detail.

Read-only, on the ledger's engine, in one snapshot per call (:func:`~yxt_provider.ledger.engine.reading`).
The counts come from :func:`~yxt_provider.ledger.read_models.delivery_reports`, so the view,
the delivery report and the CSV export never disagree about a message. Nothing here returns
a full phone number: a reply's number and any number inside its text are masked.

The list pages first, then counts: ``ORDER BY created_at DESC LIMIT n`` over the campaigns
table picks the page, and only that page's campaigns are counted (over the messages index
that starts with ``campaign_id``), so answering costs the same with ten campaigns or ten
thousand, and a million messages are never scanned for one page.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from yxt_provider.client.numbers import mask_number, mask_numbers_in_text
from yxt_provider.ledger import dialects, schema
from yxt_provider.ledger.engine import Bind, reading
from yxt_provider.ledger.models import DeliveryReport, describe_result
from yxt_provider.ledger.read_models import delivery_reports

__all__ = [
    "BUCKET_WIDTHS",
    "MAX_BUCKETS",
    "MAX_PAGE_SIZE",
    "CampaignDetail",
    "CampaignPage",
    "CampaignSummary",
    "FailureGroup",
    "ReceiptBucket",
    "ReplyLine",
    "campaign_detail",
    "campaign_of_task",
    "dags_with_campaigns",
    "list_campaigns",
]

_c = schema.campaigns.c
_m = schema.messages.c
_rp = schema.replies.c
_o = schema.opt_outs.c

#: Most campaigns one page of the list may hold.
MAX_PAGE_SIZE = 200
#: Bucket widths of the receipts chart, in seconds: the smallest that keeps it within :data:`MAX_BUCKETS`.
BUCKET_WIDTHS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
#: Most bars the receipts chart has.
MAX_BUCKETS = 60


@dataclass(frozen=True, kw_only=True)
class CampaignSummary:
    """One line of the campaign list: the campaign's task instance and where its messages stand.

    Counts are the delivery report's; shares are of ``recipients`` (the messages planned), and
    ``failed_pct`` counts what will not arrive for a known reason: receipts saying failed
    and numbers the gateway refused at send.

    :param campaign_id: the ledger key.
    :param dag_id: the DAG of the send task.
    :param run_id: the DAG run.
    :param task_id: the send task.
    :param map_index: the mapped task's index (-1 when not mapped).
    :param created_at: when the campaign was planned (UTC).
    :param status: the campaign's status in the ledger.
    :param recipients: messages planned.
    :param sent: accepted by the gateway.
    :param delivered: with a receipt saying delivered.
    :param failed: with a receipt saying failed.
    :param refused: refused by the gateway inside an accepted send (``data.failList``).
    :param pending: accepted, no receipt yet.
    :param not_sent: still planned (their batch was not accepted).
    :param replies: inbound replies attributed to the campaign.
    :param opt_outs: numbers that opted out by replying to the campaign.
    """

    campaign_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    created_at: datetime
    status: str
    recipients: int
    sent: int
    delivered: int
    failed: int
    refused: int
    pending: int
    not_sent: int
    replies: int
    opt_outs: int

    def share(self, count: int) -> float:
        """``count`` as a percentage of the recipients (0.0 for a campaign without any)."""
        return 100.0 * count / self.recipients if self.recipients else 0.0

    @property
    def delivered_pct(self) -> float:
        """Delivered, in percent of the recipients."""
        return self.share(self.delivered)

    @property
    def failed_pct(self) -> float:
        """Failed or refused at send, in percent of the recipients."""
        return self.share(self.failed + self.refused)

    @property
    def pending_pct(self) -> float:
        """Accepted and waiting for a receipt, in percent of the recipients."""
        return self.share(self.pending)


@dataclass(frozen=True)
class CampaignPage:
    """One page of the campaign list, newest first.

    :param total: campaigns matching the filters (all pages).
    :param limit: the page size asked for.
    :param offset: campaigns skipped before this page.
    :param campaigns: this page's campaigns.
    """

    total: int
    limit: int
    offset: int
    campaigns: list[CampaignSummary]


@dataclass(frozen=True)
class FailureGroup:
    """Messages that did not arrive for one reason.

    :param kind: ``receipt`` (a receipt said failed: ``code`` is its result), ``refused`` (the
        gateway refused the number inside an accepted send) or ``not_sent`` (its batch was not
        accepted: ``code`` is the gateway's result code of the last attempt, if it gave one).
    :param code: the result code, or ``None`` when there is none.
    :param meaning: what the code means, in words.
    :param count: messages.
    """

    kind: str
    code: int | None
    meaning: str
    count: int


@dataclass(frozen=True)
class ReceiptBucket:
    """Receipts of one interval of the chart.

    :param start: the interval's start (UTC); it lasts ``CampaignDetail.bucket_seconds``.
    :param delivered: receipts saying delivered.
    :param failed: receipts saying failed.
    """

    start: datetime
    delivered: int
    failed: int


@dataclass(frozen=True)
class ReplyLine:
    """A reply to the campaign, without a full phone number anywhere.

    :param number: the sender's number, masked (``138****8000``).
    :param received_at: when the gateway received it (UTC).
    :param content: its text, any mobile number in it masked.
    :param opted_out: whether this reply put the number on the opt-out list.
    """

    number: str
    received_at: datetime
    content: str
    opted_out: bool


@dataclass(frozen=True)
class CampaignDetail:
    """One campaign as its page shows it.

    :param summary: its line of the list.
    :param report: its delivery report (the counts of the funnel).
    :param failures: failed, refused and unsent messages grouped by reason and code, largest first.
    :param bucket_seconds: the width of each bar of the receipts chart.
    :param receipts: receipts per interval, oldest first, empty intervals included.
    :param replies: the latest replies, newest first (at most the limit asked for).
    """

    summary: CampaignSummary
    report: DeliveryReport
    failures: list[FailureGroup]
    bucket_seconds: int
    receipts: list[ReceiptBucket] = field(default_factory=list)
    replies: list[ReplyLine] = field(default_factory=list)


def list_campaigns(
    bind: Bind,
    *,
    dag_id: str | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    readable_dags: Collection[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> CampaignPage:
    """A page of campaigns, newest first, with their counts.

    :param bind: the ledger's engine, or a connection to read on.
    :param dag_id: only this DAG's campaigns.
    :param created_from: only campaigns planned at or after this moment (aware).
    :param created_before: only campaigns planned before this moment (aware).
    :param readable_dags: only campaigns of these DAGs (the ledger's DAGs the viewer may read,
        see :func:`dags_with_campaigns`); ``None``: all.
    :param limit: campaigns per page, 1 to :data:`MAX_PAGE_SIZE`.
    :param offset: campaigns to skip (``page × limit``).
    :raises ValueError: for a limit outside 1..:data:`MAX_PAGE_SIZE` or a negative offset.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if offset < 0:
        raise ValueError(f"offset must not be negative, got {offset}")
    with reading(bind) as conn:
        where = _filters(dag_id, created_from, created_before, readable_dags)
        if where is None:
            return CampaignPage(total=0, limit=limit, offset=offset, campaigns=[])
        total = conn.execute(
            sa.select(sa.func.count()).select_from(schema.campaigns).where(*where)
        ).scalar_one()
        rows = conn.execute(
            sa.select(schema.campaigns)
            .where(*where)
            .order_by(_c.created_at.desc(), _c.campaign_id)
            .limit(limit)
            .offset(offset)
        ).all()
        summaries = _summaries(conn, rows)
    return CampaignPage(total=int(total), limit=limit, offset=offset, campaigns=summaries)


def campaign_detail(
    bind: Bind,
    campaign_id: str,
    *,
    meanings: Mapping[int, str] | None = None,
    reply_limit: int = 50,
    readable_dags: Collection[str] | None = None,
) -> CampaignDetail | None:
    """One campaign's funnel, failures by code, receipts over time and latest replies.

    :param bind: the ledger's engine, or a connection to read on.
    :param campaign_id: the campaign.
    :param meanings: what receipt failure codes mean (the gateway documents only 0).
    :param reply_limit: the most replies to return (the newest).
    :param readable_dags: the DAGs the viewer may read; a campaign of another DAG is ``None``.
    :returns: the campaign, or ``None`` when the ledger has none by that id (or it may not be read).
    """
    with reading(bind) as conn:
        row = conn.execute(sa.select(schema.campaigns).where(_c.campaign_id == campaign_id)).first()
        if row is None or (readable_dags is not None and row.dag_id not in readable_dags):
            return None
        report = delivery_reports(conn, [campaign_id])[campaign_id]
        (summary,) = _summaries(conn, [row], {campaign_id: report})
        bucket_seconds, receipts = _receipts_over_time(conn, campaign_id)
        return CampaignDetail(
            summary=summary,
            report=report,
            failures=_failures(report, meanings),
            bucket_seconds=bucket_seconds,
            receipts=receipts,
            replies=_latest_replies(conn, campaign_id, reply_limit),
        )


def campaign_of_task(
    bind: Bind, *, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> str | None:
    """The campaign a task instance sent, if it sent one into this ledger.

    :param bind: the ledger's engine, or a connection to read on.
    :param dag_id: the task instance's DAG.
    :param run_id: its DAG run.
    :param task_id: its task.
    :param map_index: its map index (-1 when not mapped).
    """
    with reading(bind) as conn:
        return conn.execute(
            sa.select(_c.campaign_id)
            .where(_c.dag_id == dag_id, _c.run_id == run_id, _c.task_id == task_id, _c.map_index == map_index)
            .order_by(_c.created_at.desc())
            .limit(1)
        ).scalar_one_or_none()


def dags_with_campaigns(bind: Bind) -> list[str]:
    """Every DAG with a campaign in the ledger, sorted (the list's DAG filter offers these)."""
    with reading(bind) as conn:
        return list(conn.execute(sa.select(_c.dag_id).distinct().order_by(_c.dag_id)).scalars())


def _filters(
    dag_id: str | None,
    created_from: datetime | None,
    created_before: datetime | None,
    readable_dags: Collection[str] | None,
) -> list[sa.ColumnElement[bool]] | None:
    """The list's WHERE clauses; ``None`` when the viewer may read none of the matching DAGs."""
    where: list[sa.ColumnElement[bool]] = []
    if dag_id:
        if readable_dags is not None and dag_id not in readable_dags:
            return None
        where.append(_c.dag_id == dag_id)
    elif readable_dags is not None:
        # The caller passes the ledger's DAGs the viewer may read (a few), not all of Airflow's.
        if not readable_dags:
            return None
        where.append(_c.dag_id.in_(sorted(readable_dags)))
    if created_from is not None:
        where.append(_c.created_at >= sa.literal(created_from, schema.UTCDateTime))
    if created_before is not None:
        where.append(_c.created_at < sa.literal(created_before, schema.UTCDateTime))
    return where


def _summaries(
    conn: sa.Connection, rows: Sequence[Any], reports: Mapping[str, DeliveryReport] | None = None
) -> list[CampaignSummary]:
    ids = [row.campaign_id for row in rows]
    reports = reports if reports is not None else delivery_reports(conn, ids)
    opt_outs = _opt_outs_by_campaign(conn, ids)
    return [_summary(row, reports[row.campaign_id], opt_outs.get(row.campaign_id, 0)) for row in rows]


def _summary(row: Any, report: DeliveryReport, opt_outs: int) -> CampaignSummary:
    """A campaign's line: its row's identity, its report's counts."""
    return CampaignSummary(
        campaign_id=row.campaign_id, dag_id=row.dag_id, run_id=row.run_id, task_id=row.task_id,
        map_index=int(row.map_index), created_at=row.created_at, status=row.status,
        recipients=report.total, sent=report.sent, delivered=report.delivered, failed=report.failed,
        refused=report.refused, pending=report.pending, not_sent=report.not_sent, replies=report.replies,
        opt_outs=opt_outs,
    )  # fmt: skip


def _opt_outs_by_campaign(conn: sa.Connection, ids: list[str]) -> dict[str, int]:
    """Numbers on the opt-out list because of a reply attributed to each campaign."""
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(_rp.campaign_id, sa.func.count())
        .select_from(schema.opt_outs.join(schema.replies, _o.reply_key == _rp.reply_key))
        .where(_rp.campaign_id.in_(ids), _o.source == "reply")
        .group_by(_rp.campaign_id)
    )
    return {cid: int(n) for cid, n in rows}


def _failures(report: DeliveryReport, meanings: Mapping[int, str] | None) -> list[FailureGroup]:
    """What did not arrive, by where and why, in the delivery report's own words."""
    groups = [
        FailureGroup("receipt", None if code < 0 else code, describe_result(code, meanings), n)
        for code, n in report.failed_by_code.items()
    ]
    if report.refused:
        groups.append(
            FailureGroup("refused", None, "refused at send by the gateway (failList)", report.refused)
        )
    # The report's reasons name the gateway's code of the batch's last attempt, when it gave one.
    for reason, n in report.not_sent_reasons.items():
        code = _CODE_IN_REASON.search(reason)
        groups.append(FailureGroup("not_sent", int(code.group(1)) if code else None, reason, n))
    return sorted(groups, key=lambda group: (-group.count, group.kind, group.code or 0))


_CODE_IN_REASON = re.compile(r"\bcode (\d+)\b")


def _receipts_over_time(conn: sa.Connection, campaign_id: str) -> tuple[int, list[ReceiptBucket]]:
    """Receipts per interval: the width chosen from the receipts' span, each bar counted in SQL."""
    first, last = conn.execute(
        sa.select(sa.func.min(_m.receipt_at), sa.func.max(_m.receipt_at)).where(
            _m.campaign_id == campaign_id, _m.receipt_at.is_not(None)
        )
    ).one()
    if first is None:
        return BUCKET_WIDTHS[0], []
    first_s, last_s = _aware(first).timestamp(), _aware(last).timestamp()
    # Bars start at multiples of the width since the epoch: count the bars the span touches.
    width = next(
        (w for w in BUCKET_WIDTHS if int(last_s // w) - int(first_s // w) + 1 <= MAX_BUCKETS),
        BUCKET_WIDTHS[-1],
    )
    bucket = dialects.time_bucket(conn.dialect, _m.receipt_at, width).label("bucket")
    counts: dict[int, list[int]] = {}
    for index, status, n in conn.execute(
        sa.select(bucket, _m.status, sa.func.count())
        .where(_m.campaign_id == campaign_id, _m.receipt_at.is_not(None))
        .group_by(bucket, _m.status)
    ):
        slot = counts.setdefault(int(index), [0, 0])
        slot[0 if status == "delivered" else 1] += int(n)
    start, end = min(counts), max(counts)
    return width, [
        ReceiptBucket(
            start=datetime.fromtimestamp(index * width, timezone.utc),
            delivered=counts.get(index, [0, 0])[0],
            failed=counts.get(index, [0, 0])[1],
        )
        for index in range(start, end + 1)
    ]


def _latest_replies(conn: sa.Connection, campaign_id: str, limit: int) -> list[ReplyLine]:
    rows = conn.execute(
        sa.select(_rp.user_number, _rp.reply_time, _rp.content, _o.phone.is_not(None).label("opted_out"))
        .select_from(
            schema.replies.outerjoin(
                schema.opt_outs, sa.and_(_o.reply_key == _rp.reply_key, _o.source == "reply")
            )
        )
        .where(_rp.campaign_id == campaign_id)
        .order_by(_rp.reply_time.desc(), _rp.reply_key)
        .limit(limit)
    )
    return [
        ReplyLine(
            number=mask_number(row.user_number), received_at=row.reply_time,
            content=mask_numbers_in_text(row.content), opted_out=bool(row.opted_out),
        )
        for row in rows
    ]  # fmt: skip


def _aware(value: datetime) -> datetime:
    # MIN/MAX go around the column type on some backends (SQLite: a string, no zone).
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
