"""Frozen dataclasses for ledger rows and results, and what a receipt result code means.

Pure Python (no SQLAlchemy), so operators can import the models at DAG-parse time.
Reprs never show phone numbers: :class:`PlannedBatch` shows only how many it carries, and a
:class:`DeliveryReport` holds none at all, so it can be logged and pushed to XCom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

__all__ = [
    "DELIVERED_RESULT",
    "NOT_PLANNED",
    "RESULT_MEANINGS",
    "AccountPace",
    "AttemptStart",
    "BatchRecord",
    "CampaignRecord",
    "DeliveryReport",
    "ExcludedRecipient",
    "PaceChange",
    "PlannedBatch",
    "ReceiptIngestCounts",
    "ReplyStoreCounts",
    "StoredReply",
    "describe_duration",
    "describe_result",
]

#: The receipt result code meaning "delivered"; every other code means failed.
DELIVERED_RESULT = 0
#: Receipt result code → meaning. Codes other than 0 are specific to the gateway and the mobile
#: operator and not documented by the YXT interface, so only "delivered" has a known meaning.
RESULT_MEANINGS: dict[int, str] = {DELIVERED_RESULT: "delivered"}


def describe_result(code: int, meanings: Mapping[int, str] | None = None) -> str:
    """A short human description of a receipt result code, e.g. ``failed (code 2: 空号)``.

    :param code: the receipt's ``result`` (-1 stands for a failed message without a code).
    :param meanings: what the account's gateway or carrier says its failure codes mean; the
        YXT interface documents only 0 (delivered).
    """
    if code in RESULT_MEANINGS:
        return RESULT_MEANINGS[code]
    if code < 0:
        return "failed (no code)"
    meaning = (meanings or {}).get(code)
    return f"failed (code {code}: {meaning})" if meaning else f"failed (code {code})"


@dataclass(frozen=True, kw_only=True)
class CampaignRecord:
    """One campaign: the send of one task instance (dag, run, task, map index).

    :param campaign_id: the ledger key, derived by the campaign layer from the task identity.
    :param dag_id: the DAG that sends.
    :param run_id: the DAG run.
    :param task_id: the task.
    :param map_index: the mapped task index (-1 when not mapped).
    :param template_id: the gateway template the messages use.
    :param planned: recipients planned (one message row each).
    :param invalid: recipients dropped as not a mobile number.
    :param duplicate: recipients dropped as repeats.
    :param opted_out: recipients skipped as on the opt-out list (at planning, or before their
        batch was first attempted).
    :param capped: recipients skipped as over the frequency cap.
    :param batches: number of send requests (batches) planned.
    :param segments: estimated billable SMS segments.
    :param source_fingerprint: hash of the recipient source and content used for the plan,
        so a retry can tell that the source changed since the plan was written.
    :param status: ``planned``, ``sending``, ``sent`` or ``failed``.
    :param created_at: when the plan was written (filled in by the ledger when ``None``).
    :param updated_at: last status change (filled in by the ledger when ``None``).
    :param error: why the campaign failed, when it did.
    """

    campaign_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    template_id: str
    planned: int = 0
    invalid: int = 0
    duplicate: int = 0
    opted_out: int = 0
    capped: int = 0
    batches: int = 0
    segments: int = 0
    source_fingerprint: str = ""
    status: str = "planned"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class PlannedBatch:
    """One send request as planned, with its recipients (input to ``Ledger.create_plan``).

    :param campaign_id: the campaign the batch belongs to.
    :param batch_index: 0-based position of the batch in the campaign.
    :param serial_number: the 20-digit serial the batch is (re-)sent under.
    :param template_id: the gateway template.
    :param content: the exact message text of the batch.
    :param content_hash: hash of ``content`` (lets a retry check the text did not change).
    :param numbers: the recipients, 11-digit strings, distinct, in send order.
    :param rows: each number's row in the recipient source (1-based), in the same order;
        ``None`` when unknown.
    """

    campaign_id: str
    batch_index: int
    serial_number: str
    template_id: str
    content: str
    content_hash: str
    numbers: Sequence[str] = field(repr=False)
    rows: Sequence[int] | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (
            f"PlannedBatch(campaign_id={self.campaign_id!r}, batch_index={self.batch_index}, "
            f"serial_number={self.serial_number!r}, numbers=<{len(self.numbers)} numbers>)"
        )


class ExcludedRecipient(NamedTuple):
    """An input row a campaign set aside instead of planning (``yxt_excluded_recipients``).

    :param row: its position in the recipient source, 1-based.
    :param reason: one of ``schema.EXCLUSION_REASONS`` (``invalid``, ``duplicate``, ``opted_out``,
        ``capped``).
    :param value: the entry as given (never logged: it may be a full number).
    :param duplicate_of_row: for a duplicate, the row where its number first appeared.
    """

    row: int
    reason: str
    value: str
    duplicate_of_row: int | None = None


@dataclass(frozen=True, kw_only=True)
class BatchRecord:
    """A batch as stored in the ledger (without its numbers; see ``Ledger.batch_numbers``).

    :param campaign_id: the campaign.
    :param batch_index: 0-based position in the campaign.
    :param serial_number: the batch's 20-digit serial.
    :param template_id: the gateway template.
    :param content: the exact message text.
    :param content_hash: hash of ``content``.
    :param size: how many numbers the batch carries.
    :param state: ``planned``, ``attempted``, ``sent`` or ``failed``.
    :param attempts: how many send attempts were started.
    :param gateway_task_id: the gateway's ``taskId`` once accepted (``None`` when accepted as a duplicate).
    :param duplicate: True when the gateway accepted it as code 15 (already sent earlier).
    :param attempted_at: when the last attempt started.
    :param sent_at: when the gateway accepted it.
    :param error_code: gateway result code of the last failed attempt.
    :param error: description of the last failed attempt.
    """

    campaign_id: str
    batch_index: int
    serial_number: str
    template_id: str
    content: str
    content_hash: str
    size: int
    state: str
    attempts: int
    gateway_task_id: str | None
    duplicate: bool
    attempted_at: datetime | None
    sent_at: datetime | None
    error_code: int | None
    error: str | None

    @property
    def maybe_accepted(self) -> bool:
        """True when an attempt of this batch may have been accepted by the gateway.

        Either it was (``sent``), or the last attempt started and no definite answer was
        recorded: a crash mid-request, a timeout, a dropped connection, an HTTP error. A
        gateway result code recorded as ``error_code`` is a definite rejection.
        """
        return self.state == "sent" or (self.state == "attempted" and self.error_code is None)


@dataclass(frozen=True)
class AttemptStart:
    """What ``Ledger.mark_attempted`` found and did.

    :param before: the batch as it was just before the attempt was counted.
    :param dropped: numbers taken out of the batch because they opted out before its first attempt.
    :param skipped: every number of the batch had opted out: nothing to send, no attempt counted.
    """

    before: BatchRecord
    dropped: int = 0
    skipped: bool = False


@dataclass(frozen=True)
class AccountPace:
    """The send pace a gateway account shares between every task: one ``yxt_account_pace`` row.

    Times are seconds since the Unix epoch on the database's clock.

    :param account_key: the account's key (a hash of gateway host, app key and sp_code).
    :param next_slot: the next free send moment.
    :param rate: the shared pace, requests per second.
    :param max_rate: the ceiling the pace recovers to (the connection's ``max_requests_per_second``).
    :param throttles: code 11 answers reported by every task so far.
    :param last_throttle_at: when the rate was last cut for a code 11 (``None``: never).
    """

    account_key: str
    next_slot: float
    rate: float
    max_rate: float
    throttles: int = 0
    last_throttle_at: float | None = None


@dataclass(frozen=True)
class PaceChange:
    """What one ``Ledger.change_account_pace`` transaction saw and wrote.

    :param before: the row as it was under the lock.
    :param after: the row as written.
    :param now: the database's clock when the row was read (seconds since the epoch).
    :param read_at: this process's ``time.monotonic()`` just after the row was read: a slot at
        database time ``t`` is due at ``read_at + (t - now)`` locally, whatever the local clock says.
    """

    before: AccountPace
    after: AccountPace
    now: float
    read_at: float


@dataclass(frozen=True)
class ReceiptIngestCounts:
    """What one ``Ledger.store_receipts`` call did.

    ``stored_new == matched + unmatched``; ``read - stored_new`` receipts were already in the
    ledger (stored earlier, by another process, or repeated within the page).

    :param read: receipts handed to the call.
    :param stored_new: receipts this call stored for the first time.
    :param matched: of those, how many belong to a message in this ledger.
    :param unmatched: of those, how many belong to no message here (another sender on the account).
    """

    read: int
    stored_new: int
    matched: int
    unmatched: int


@dataclass(frozen=True)
class ReplyStoreCounts:
    """What one ``Ledger.store_replies`` call did.

    :param read: replies handed to the call.
    :param stored: of those, stored for the first time.
    :param already_stored: of those, stored before (a page delivered again).
    :param attributed: of the stored ones, linked to a campaign of this ledger.
    :param opted_out: numbers newly on the opt-out list because of these replies.
    :param new: the replies stored for the first time (their reprs are masked).
    """

    read: int
    stored: int
    already_stored: int
    attributed: int
    opted_out: int = 0
    new: tuple[StoredReply, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class StoredReply:
    """An inbound reply as the ledger holds it (``yxt_replies``).

    The repr masks the number and shows only the text's length: replies carry personal data.

    :param reply_key: the reply's identity (see ``schema.replies``).
    :param user_number: the number that replied.
    :param content: the reply text.
    :param reply_time: when it was sent, aware UTC.
    :param call_mdn: the access number it was sent to.
    :param campaign_id: the campaign it answers, when one messaged the number before.
    :param stored_at: when the ledger stored it.
    """

    reply_key: str
    user_number: str = field(repr=False)
    content: str = field(repr=False)
    reply_time: datetime
    call_mdn: str = field(repr=False)
    campaign_id: str | None
    stored_at: datetime

    def __repr__(self) -> str:
        from yxt_provider.client.numbers import mask_number

        return (
            f"StoredReply(reply_key={self.reply_key[:12]!r}…, user_number={mask_number(self.user_number)!r}, "
            f"content=<{len(self.content)} chars>, reply_time={self.reply_time.isoformat()!r}, "
            f"campaign_id={self.campaign_id!r})"
        )


@dataclass(frozen=True)
class DeliveryReport:
    """Where every input row and message of a campaign stands.

    ``sent`` counts the messages the gateway accepted, whatever happened next:
    ``sent == delivered + failed + pending`` and ``total == sent + refused + not_sent``.
    Input rows set aside before planning are ``invalid``, ``duplicate``, ``opted_out`` and
    ``capped``.

    :param campaign_id: the campaign.
    :param total: messages planned.
    :param sent: messages accepted by the gateway.
    :param delivered: messages with a receipt saying delivered.
    :param failed: messages with a receipt saying failed.
    :param failed_by_code: failed messages per receipt result code.
    :param pending: accepted messages still without a receipt.
    :param pending_past_timeout: of those, sent longer ago than ``pending_timeout``.
    :param not_sent: messages still planned (their batch was not accepted yet).
    :param refused: messages the gateway refused inside a request it accepted (the send
        answer's ``data.failList``): never sent, final, no receipt to wait for.
    :param pending_timeout: the timeout ``pending_past_timeout`` was counted with, if any.
    :param invalid: input rows set aside as not mainland mobile numbers.
    :param duplicate: input rows set aside as repeats of an earlier row.
    :param opted_out: recipients skipped as on the opt-out list.
    :param capped: recipients skipped as over the frequency cap.
    :param status: the campaign's status in the ledger (``planned``, ``sending``, ``sent``,
        ``failed``), or ``not planned`` when it never got a plan.
    :param error: why the campaign stopped, or was not planned, when it did not go out in full.
    :param not_sent_reasons: messages not sent, by why (the last attempt of their batch).
    :param replies: inbound replies attributed to the campaign.
    :param shards: for a campaign group (the shards of one mapped send), each shard's own
        report, in the group's order; empty for a single campaign. See :meth:`combine`.
    """

    campaign_id: str
    total: int
    sent: int
    delivered: int
    failed: int
    failed_by_code: dict[int, int] = field(default_factory=dict)
    pending: int = 0
    pending_past_timeout: int = 0
    not_sent: int = 0
    refused: int = 0
    pending_timeout: timedelta | None = None
    invalid: int = 0
    duplicate: int = 0
    opted_out: int = 0
    capped: int = 0
    status: str | None = None
    error: str | None = None
    not_sent_reasons: dict[str, int] = field(default_factory=dict)
    replies: int = 0
    shards: tuple[DeliveryReport, ...] = ()

    @classmethod
    def combine(cls, campaign_id: str, reports: Sequence[DeliveryReport]) -> DeliveryReport:
        """One report for a campaign group: the shards' counts added up, each shard's report kept.

        Every count of a report is a count of messages or input rows, so the group's is the
        sum of its shards'; codes and reasons are added per key. What is not a count is
        derived, never added: ``delivered_share`` (and every percentage of the table) from the
        summed counts, ``status`` from the shards' statuses (``sent``, or ``mixed: 2 sent,
        1 failed``), ``error`` naming each shard that has one. ``pending_past_timeout`` adds up
        only because the shards were counted with one cutoff
        (:func:`~yxt_provider.ledger.read_models.delivery_reports`), so every shard must carry
        the same ``pending_timeout``.

        :param campaign_id: what the group is called (the shards' common id, see
            :func:`~yxt_provider.campaign.group.group_label`).
        :param reports: the shards' reports (single-campaign reports, at least one); a shard
            that recorded no campaign is a report with status ``not planned``.
        :raises ValueError: for no reports, a report that is a group itself, or differing
            ``pending_timeout``.
        """
        if not reports:
            raise ValueError("a campaign group needs at least one shard report")
        if any(report.shards for report in reports):
            raise ValueError("a campaign group's shards must be single campaigns, not groups")
        timeouts = {report.pending_timeout for report in reports}
        if len(timeouts) > 1:
            raise ValueError(f"the shards were counted with different pending_timeout values: {timeouts}")

        def total(name: str) -> int:
            return sum(int(getattr(report, name)) for report in reports)

        def merged(name: str) -> dict[Any, int]:
            counts: dict[Any, int] = {}
            for report in reports:
                for key, n in getattr(report, name).items():
                    counts[key] = counts.get(key, 0) + n
            return counts

        errors = [f"{report.campaign_id}: {report.error}" for report in reports if report.error]
        if len(errors) > _ERRORS_SHOWN:
            errors = [*errors[:_ERRORS_SHOWN], f"and {len(errors) - _ERRORS_SHOWN} more shards with errors"]
        return cls(
            campaign_id=campaign_id,
            **{name: total(name) for name in _SUMMED_FIELDS},
            failed_by_code=dict(sorted(merged("failed_by_code").items())),
            not_sent_reasons=dict(sorted(merged("not_sent_reasons").items(), key=lambda item: -item[1])),
            pending_timeout=reports[0].pending_timeout,
            status=_group_status([report.status for report in reports]),
            error="; ".join(errors) or None,
            shards=tuple(reports),
        )

    @property
    def missing_shards(self) -> tuple[str, ...]:
        """For a group: the shards that recorded no campaign in the ledger (status ``not planned``)."""
        return tuple(shard.campaign_id for shard in self.shards if shard.status == NOT_PLANNED)

    @property
    def delivered_share(self) -> float:
        """Delivered messages as a share of the sent ones (0.0 when nothing was sent)."""
        return self.delivered / self.sent if self.sent else 0.0

    @property
    def complete(self) -> bool:
        """True when every message was sent and has a receipt."""
        return self.not_sent == 0 and self.pending == 0

    @property
    def input_rows(self) -> int:
        """Rows the recipient source had: planned, and set aside (invalid, duplicate, opted out, capped)."""
        return self.total + self.invalid + self.duplicate + self.opted_out + self.capped

    def to_dict(self, meanings: Mapping[int, str] | None = None) -> dict[str, Any]:
        """A small JSON-able dict for XCom (code keys become strings, as JSON requires).

        :param meanings: failure-code meanings; those of codes present are included.
        """
        known = {
            str(code): (meanings or {})[code] for code in self.failed_by_code if code in (meanings or {})
        }
        result: dict[str, Any] = {
            "campaign_id": self.campaign_id,
            "status": self.status,
            "input_rows": self.input_rows,
            "invalid": self.invalid,
            "duplicate": self.duplicate,
            "opted_out": self.opted_out,
            "capped": self.capped,
            "total": self.total,
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "failed_by_code": {str(code): n for code, n in self.failed_by_code.items()},
            "failed_code_meanings": known,
            "pending": self.pending,
            "pending_past_timeout": self.pending_past_timeout,
            "not_sent": self.not_sent,
            "not_sent_reasons": dict(self.not_sent_reasons),
            "refused": self.refused,
            "replies": self.replies,
            "error": self.error,
            "pending_timeout_seconds": (
                None if self.pending_timeout is None else self.pending_timeout.total_seconds()
            ),
            "delivered_share": round(self.delivered_share, 6),
        }
        if self.shards:
            result["campaign_ids"] = [shard.campaign_id for shard in self.shards]
            result["missing_shards"] = list(self.missing_shards)
            result["shards"] = [
                {k: v for k, v in shard.to_dict(meanings).items() if k not in _GROUP_ONLY_KEYS}
                for shard in self.shards
            ]
        return result

    def as_table(self, meanings: Mapping[int, str] | None = None) -> str:
        """A plain-text table for task logs, aligned for Chinese labels too.

        :param meanings: failure-code meanings to print beside the codes.
        """
        from yxt_provider.ledger.text_table import render_table

        def pct(n: int, of: int) -> str:
            return f"{100.0 * n / of:.2f}%" if of else "-"

        rows: list[tuple[str, int, str]] = []
        set_aside = [
            ("invalid", self.invalid),
            ("duplicate", self.duplicate),
            ("opted out", self.opted_out),
            ("over the frequency cap", self.capped),
        ]
        if any(n for _, n in set_aside):
            rows.append(("input rows", self.input_rows, ""))
            rows += [(f"  set aside: {why}", n, pct(n, self.input_rows)) for why, n in set_aside if n]
        rows += [
            ("messages planned", self.total, ""),
            ("  sent (accepted by gateway)", self.sent, pct(self.sent, self.total)),
            ("    delivered", self.delivered, pct(self.delivered, self.sent)),
            ("    failed", self.failed, pct(self.failed, self.sent)),
        ]
        rows += [
            (f"      {describe_result(code, meanings)}", n, pct(n, self.sent))
            for code, n in self.failed_by_code.items()
        ]
        rows.append(("    pending (no receipt yet)", self.pending, pct(self.pending, self.sent)))
        if self.pending_timeout is not None:
            rows.append(
                (
                    f"      of which sent over {describe_duration(self.pending_timeout)} ago",
                    self.pending_past_timeout,
                    "",
                )
            )
        if self.refused:
            rows.append(("  refused at send (failList)", self.refused, pct(self.refused, self.total)))
        rows.append(("  not sent", self.not_sent, pct(self.not_sent, self.total)))
        rows += [(f"    {reason}", n, pct(n, self.total)) for reason, n in self.not_sent_reasons.items()]
        rows.append(("replies received", self.replies, ""))
        status = f" ({self.status})" if self.status else ""
        if self.shards:
            title = (
                f"Delivery report for campaign group {self.campaign_id} ({len(self.shards)} shards){status}"
            )
        else:
            title = f"Delivery report for campaign {self.campaign_id}{status}"
        table = render_table(
            title, [(label, f"{n:,d}", share) for label, n, share in rows], right_aligned=(1, 2)
        )
        if self.shards:
            table = f"{table}\n\n{self._shard_table()}"
        return f"{table}\nwhy: {self.error}" if self.error else table

    def _shard_table(self) -> str:
        """One line per shard: its counts beside its campaign id, so a lagging or failed shard stands out."""
        from yxt_provider.ledger.text_table import render_table

        header = ("shard", "status", "planned", "sent", "delivered", "failed", "pending", "refused", "not sent",
                  "delivered %")  # fmt: skip
        rows = [header] + [
            (
                shard.campaign_id, str(shard.status), *(f"{getattr(shard, name):,d}" for name in _SHARD_COLUMNS),
                f"{100.0 * shard.delivered_share:.2f}%" if shard.sent else "-",
            )
            for shard in self.shards
        ]  # fmt: skip
        missing = f", {len(self.missing_shards)} recorded no campaign" if self.missing_shards else ""
        return render_table(
            f"Shards of campaign group {self.campaign_id} ({len(self.shards)}{missing})",
            rows,
            right_aligned=tuple(range(2, len(header))),
        )


#: The status of a report for a campaign the ledger has no record of.
NOT_PLANNED = "not planned"
# The counts a group's report adds up over its shards (failed_by_code and not_sent_reasons too, per key).
_SUMMED_FIELDS = ("total", "sent", "delivered", "failed", "pending", "pending_past_timeout", "not_sent", "refused",
                  "invalid", "duplicate", "opted_out", "capped", "replies")  # fmt: skip
_SHARD_COLUMNS = ("total", "sent", "delivered", "failed", "pending", "refused", "not_sent")
# Keys of a report dict that say the same for every shard, so a shard's entry in a group's dict leaves them out.
_GROUP_ONLY_KEYS = frozenset({"pending_timeout_seconds", "failed_code_meanings"})
_ERRORS_SHOWN = 5


def _group_status(statuses: Sequence[str | None]) -> str:
    """The group's status: the shards' one status, or ``mixed: 2 sent, 1 failed`` (most frequent first)."""
    counts: dict[str, int] = {}
    for status in statuses:
        counts[str(status)] = counts.get(str(status), 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    return "mixed: " + ", ".join(
        f"{n} {status}" for status, n in sorted(counts.items(), key=lambda kv: -kv[1])
    )


def describe_duration(value: timedelta) -> str:
    """A duration in words for reports: ``30 min``, ``2 h``, ``1 h 30 min``, ``45 s``, ``3 d``.

    :param value: the duration.
    """
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    parts = []
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "min")):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}")
    return " ".join(parts)
