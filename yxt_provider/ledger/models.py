"""Frozen dataclasses for ledger rows and results.

Reprs never show phone numbers: :class:`PlannedBatch` shows only how many it carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["BatchRecord", "CampaignRecord", "PlannedBatch", "ReceiptIngestCounts"]


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
    """

    campaign_id: str
    batch_index: int
    serial_number: str
    template_id: str
    content: str
    content_hash: str
    numbers: Sequence[str] = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"PlannedBatch(campaign_id={self.campaign_id!r}, batch_index={self.batch_index}, "
            f"serial_number={self.serial_number!r}, numbers=<{len(self.numbers)} numbers>)"
        )


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
